"""What a case predictor is: the interface the assessment accepts for a clinic's own model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from resorb.domain import Case

__all__ = ["CaseEstimate", "CasePredictor"]


@runtime_checkable
class CaseEstimate(Protocol):
    """A resorption estimate for one case.

    ``to_dict()`` gives at least ``probability`` (0-1), ``interval`` (the 95 %
    interval as two probabilities), ``horizon_months``, ``definition`` (what
    counts as resorption), ``factors`` and ``warnings``: the keys of
    :meth:`ResorptionEstimate.to_dict`.
    """

    def to_dict(self) -> Mapping[str, Any]:
        """The estimate as plain data."""
        ...


@runtime_checkable
class CasePredictor(Protocol):
    """A model that estimates resorption for one case.

    The evidence model (:func:`resorption_probability`) is the default; a
    clinic's portable model (:func:`resorb.cohort.load_portable_model`)
    satisfies this protocol and can replace it in
    :func:`resorb.reports.assess_case`.
    """

    def predict_case(self, case: Case) -> CaseEstimate:
        """The estimate for ``case``."""
        ...
