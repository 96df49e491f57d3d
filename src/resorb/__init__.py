"""resorb: spontaneous resorption of lumbar disc herniation.

Decision support and research software, not a medical device: its estimates
summarise published evidence and do not replace clinical judgement.

The main entry points are available from ``resorb`` itself (imported on first
use, so ``import resorb`` stays fast); each lives in a subpackage with the rest
of its API.

Reading and assessing a case

    >>> case = resorb.Case.from_file("case.yaml")        # doctest: +SKIP
    >>> a = resorb.assess_case(case)                     # doctest: +SKIP
    >>> a.to_dict()["resorption"]["probability"]         # doctest: +SKIP
    >>> resorb.render_pdf(a, "report.pdf")               # doctest: +SKIP

    ``Case`` (:mod:`resorb.domain`), ``assess_case``, ``Assessment``,
    ``render_html``, ``render_pdf`` (:mod:`resorb.reports`); the parts of an
    assessment: ``triage_case``, ``resorption_probability``,
    ``forecast_volumes`` (:mod:`resorb.prognosis`). A clinic's own model
    replaces the evidence model through ``assess_case(case, model=...)``; any
    object with ``predict_case`` fits (``CasePredictor``).

Volumes

    >>> m = resorb.mask_volume(resorb.HerniationMask.from_file("seg.nii.gz"))  # doctest: +SKIP
    >>> resorb.compare_volumes(1500.0, 600.0, days=120).grade                # doctest: +SKIP

    ``HerniationMask``, ``mask_volume``, ``measure_study``,
    ``ellipsoid_volume_mm3``, ``compare_volumes`` (:mod:`resorb.imaging`).

Scores
    ``odi_percent``, ``joa_recovery_rate_percent``, ``mcid_improvement``,
    ``JoaItems`` (:mod:`resorb.scores`).

Simulation of the resorption mechanism

    >>> r = resorb.simulate("extrusion", days=365)       # doctest: +SKIP

    ``simulate``, ``simulate_cohort``, ``load_model`` (:mod:`resorb.mechanism`).

Cohort statistics (a clinic's own prediction model)

    >>> df = resorb.read_cohort("cohort.csv")            # doctest: +SKIP
    >>> fit = resorb.analyse_cohort(df, outcome="resorbed_12mo",
    ...                             predictors="morphology,age_years")  # doctest: +SKIP

    ``read_cohort``, ``analyse_cohort``, ``load_portable_model``
    (:mod:`resorb.cohort`).

Registry, evidence, errors
    ``Registry`` (:mod:`resorb.registry`), ``load_evidence``
    (:mod:`resorb.evidence`), ``ResorbError`` and ``InvalidInputError``
    (:mod:`resorb.errors`: every error resorb raises on purpose is a
    ``ResorbError``; bad input an ``InvalidInputError`` naming the field).

The other subpackages: :mod:`resorb.therapy` (conservative therapies and
their evidence), :mod:`resorb.interop` (DICOM de-identification, FHIR, DICOM
SR), :mod:`resorb.web` (the web app).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

DISCLAIMER = (
    "resorb is decision-support and research software, not a medical device. "
    "Its estimates summarise published evidence and do not replace clinical judgement."
)

#: Name -> the subpackage that defines it (imported on first access).
_ENTRY_POINTS: dict[str, str] = {
    # reading and assessing a case
    "Case": "resorb.domain",
    "Assessment": "resorb.reports",
    "assess_case": "resorb.reports",
    "render_html": "resorb.reports",
    "render_pdf": "resorb.reports",
    "CasePredictor": "resorb.prognosis",
    "ResorptionEstimate": "resorb.prognosis",
    "VolumeForecast": "resorb.prognosis",
    "Triage": "resorb.prognosis",
    "forecast_volumes": "resorb.prognosis",
    "resorption_probability": "resorb.prognosis",
    "triage_case": "resorb.prognosis",
    # volumes
    "HerniationMask": "resorb.imaging",
    "VolumeMeasurement": "resorb.imaging",
    "compare_volumes": "resorb.imaging",
    "ellipsoid_volume_mm3": "resorb.imaging",
    "mask_volume": "resorb.imaging",
    "measure_study": "resorb.imaging",
    # scores
    "JoaItems": "resorb.scores",
    "joa_recovery_rate_percent": "resorb.scores",
    "mcid_improvement": "resorb.scores",
    "odi_percent": "resorb.scores",
    # simulation
    "load_model": "resorb.mechanism",
    "simulate": "resorb.mechanism",
    "simulate_cohort": "resorb.mechanism",
    # cohort statistics
    "analyse_cohort": "resorb.cohort",
    "load_portable_model": "resorb.cohort",
    "read_cohort": "resorb.cohort",
    # registry, evidence, errors
    "Registry": "resorb.registry",
    "load_evidence": "resorb.evidence",
    "InvalidInputError": "resorb.errors",
    "ResorbError": "resorb.errors",
}

__all__ = [
    "DISCLAIMER",
    "Assessment",
    "Case",
    "CasePredictor",
    "HerniationMask",
    "InvalidInputError",
    "JoaItems",
    "Registry",
    "ResorbError",
    "ResorptionEstimate",
    "Triage",
    "VolumeForecast",
    "VolumeMeasurement",
    "__version__",
    "analyse_cohort",
    "assess_case",
    "compare_volumes",
    "ellipsoid_volume_mm3",
    "forecast_volumes",
    "joa_recovery_rate_percent",
    "load_evidence",
    "load_model",
    "load_portable_model",
    "mask_volume",
    "mcid_improvement",
    "measure_study",
    "odi_percent",
    "read_cohort",
    "render_html",
    "render_pdf",
    "resorption_probability",
    "simulate",
    "simulate_cohort",
    "triage_case",
]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("resorb")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    """Import an entry point's subpackage on first access (PEP 562).

    ``__version__`` is read from the installed package metadata on first
    access too (reading it costs more than the rest of ``import resorb``).
    """
    if name == "__version__":
        globals()[name] = value = _version()
        return value
    module = _ENTRY_POINTS.get(name)
    if module is None:
        raise AttributeError(f"module 'resorb' has no attribute {name!r}")
    try:
        package = importlib.import_module(module)
    except ImportError as exc:  # an optional extra is not installed
        raise AttributeError(
            f"resorb.{name} is not available: {exc} (it comes with an optional extra; "
            "pip install 'resorb[all]' installs every one)",
            name=name,
        ) from exc
    value = getattr(package, name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what type checkers and editors see
    __version__: str
    from resorb.cohort import analyse_cohort, load_portable_model, read_cohort
    from resorb.domain import Case
    from resorb.errors import InvalidInputError, ResorbError
    from resorb.evidence import load_evidence
    from resorb.imaging import (
        HerniationMask,
        VolumeMeasurement,
        compare_volumes,
        ellipsoid_volume_mm3,
        mask_volume,
        measure_study,
    )
    from resorb.mechanism import load_model, simulate, simulate_cohort
    from resorb.prognosis import (
        CasePredictor,
        ResorptionEstimate,
        Triage,
        VolumeForecast,
        forecast_volumes,
        resorption_probability,
        triage_case,
    )
    from resorb.registry import Registry
    from resorb.reports import Assessment, assess_case, render_html, render_pdf
    from resorb.scores import JoaItems, joa_recovery_rate_percent, mcid_improvement, odi_percent
