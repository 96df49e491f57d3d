"""resorb: spontaneous resorption of lumbar disc herniation.

Decision support and research software, not a medical device. The public API
lives in the subpackages: :mod:`resorb.domain`, :mod:`resorb.imaging`,
:mod:`resorb.scores`, :mod:`resorb.evidence`, :mod:`resorb.prognosis`,
:mod:`resorb.therapy`, :mod:`resorb.mechanism`, :mod:`resorb.cohort`,
:mod:`resorb.registry`, :mod:`resorb.reports`, :mod:`resorb.interop` and
:mod:`resorb.web`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("resorb")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

DISCLAIMER = (
    "resorb is decision-support and research software, not a medical device. "
    "Its estimates summarise published evidence and do not replace clinical judgement."
)

__all__ = ["DISCLAIMER", "__version__"]
