"""Typed sections of an assessment: what the report and the web page read.

Each section keeps the typed result of its layer (``ResorptionEstimate``,
``VolumeForecast``, ``Triage``, ``ManagementPlan``, the volume comparisons)
and gives its JSON only in ``to_dict()``. Attributes carry the same names as
the JSON keys, so a template reads ``r.probability`` or ``f.points`` whether it
is given a live assessment or one stored as JSON; ``get(name, default)`` reads
an attribute that only some estimates have (a clinic's model has no
``observed``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AssessmentView", "ForecastSection", "MeasurementRow", "ResorptionSection", "TypedView"]


class _Readable:
    """``get(name, default)`` over attributes (the template's spelling for optional keys)."""

    __slots__ = ()

    def get(self, name: str, default: Any = None) -> Any:
        value = getattr(self, name, default)
        return default if value is None else value


@dataclass(frozen=True, slots=True)
class MeasurementRow(_Readable):
    """One MRI of the case: its volume and, for a follow-up, the change against the first."""

    index: int
    date: dt.date
    volume_mm3: float
    method: str
    source: str | None
    label: int | None
    baseline: bool
    days_after_baseline: int
    resorption_percent: float | None = None
    grade: str | None = None
    within_mdc: bool | None = None
    delta_mm3: float | None = None
    mdc_mm3: float | None = None
    resorption_percent_per_month: float | None = None
    compared_with: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "index": self.index,
            "date": self.date.isoformat(),
            "volume_mm3": self.volume_mm3,
            "method": self.method,
            "source": self.source,
            "label": self.label,
            "baseline": self.baseline,
            "days_after_baseline": self.days_after_baseline,
            "resorption_percent": self.resorption_percent,
            "grade": self.grade,
            "within_mdc": self.within_mdc,
            "delta_mm3": self.delta_mm3,
            "mdc_mm3": self.mdc_mm3,
        }
        if not self.baseline:
            out["resorption_percent_per_month"] = self.resorption_percent_per_month
            out["compared_with"] = self.compared_with
        return out


#: Read from the JSON view even for the evidence model: each factor's ``source`` there
#: is the command-line contract's (always a DOI/PMID, the counts' own source under
#: ``counts_from``), which the report cites.
_VIEW_FIRST = frozenset({"factors", "omitted"})


@dataclass(frozen=True, slots=True)
class ResorptionSection(_Readable):
    """The resorption estimate as the report shows it.

    Attributes
    ----------
    estimate : object
        A :class:`resorb.prognosis.ResorptionEstimate` or a clinic's model's estimate.
    model : str
        ``"evidence"`` or the clinic's model name.
    withheld : bool
        True beside an emergency or urgent referral: no percentage is shown.
    warnings : tuple of str
        The estimate's caveats and those raised while computing it.
    view : dict
        The estimate's JSON (``estimate.to_dict()``, normalised for a clinic's model).
    """

    estimate: Any
    model: str
    withheld: bool = False
    warnings: tuple[str, ...] = ()
    view: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __getattr__(self, name: str) -> Any:
        # The evidence model's typed attributes; a clinic's model is read through its
        # normalised JSON view (its own objects have other names).
        if name.startswith("_") or name in ("estimate", "view", "model"):
            raise AttributeError(name)
        if self.model == "evidence" and name not in _VIEW_FIRST:
            try:
                return getattr(self.estimate, name)
            except AttributeError:
                pass
        try:
            return self.view[name]
        except KeyError:
            raise AttributeError(name) from None

    def with_withheld(self, withheld: bool) -> ResorptionSection:
        return ResorptionSection(
            estimate=self.estimate,
            model=self.model,
            withheld=withheld,
            warnings=self.warnings,
            view=self.view,
        )

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.view)
        out["warnings"] = list(self.warnings)
        out["model"] = self.model
        out["withheld"] = self.withheld
        return out


@dataclass(frozen=True, slots=True)
class ForecastSection(_Readable):
    """The volume forecast, or why there is none."""

    forecast: Any = None
    reason: str | None = None
    view: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def available(self) -> bool:
        return self.forecast is not None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("forecast", "view"):
            raise AttributeError(name)
        fc = self.forecast
        if fc is None:
            raise AttributeError(name)
        try:
            return getattr(fc, name)
        except AttributeError:
            pass
        try:  # JSON-only views of the forecast (points, growth, curve, prior, ...)
            return self.view[name]
        except KeyError:
            raise AttributeError(name) from None

    @classmethod
    def of(cls, forecast: Any) -> ForecastSection:
        """The section of an available forecast (its JSON view computed once)."""
        return cls(forecast=forecast, view=forecast.to_dict())

    def to_dict(self) -> dict[str, Any]:
        if self.forecast is None:
            return {"available": False, "reason": self.reason}
        return {"available": True, **(self.view or self.forecast.to_dict())}


class TypedView(_Readable):
    """A typed result read by attribute, its JSON view filling in the view-only keys.

    ``view.steps`` is the plan's typed ``ManagementStep`` tuple; ``view.timing_basis``,
    which exists only in the JSON, comes from ``to_dict()``.
    """

    __slots__ = ("_json", "_obj")

    def __init__(self, obj: Any, json_view: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_json", json_view)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return getattr(self._obj, name)
        except AttributeError:
            pass
        try:
            return self._json[name]
        except KeyError:
            raise AttributeError(name) from None


class AssessmentView(_Readable):
    """What the report template reads of an assessment: typed sections by attribute
    (resorption, forecast, measurements, triage, management), the summaries (case,
    scores, therapies, sources, provenance, warnings) from the JSON view."""

    __slots__ = ("_assessment", "_json")

    def __init__(self, assessment: Any, json_view: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_assessment", assessment)
        object.__setattr__(self, "_json", json_view)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        a = self._assessment
        if name in ("resorption", "forecast", "measurements"):
            return getattr(a, name)
        if name in ("triage", "management"):
            return TypedView(getattr(a, name), self._json[name])
        try:
            return self._json[name]
        except KeyError:
            raise AttributeError(name) from None
