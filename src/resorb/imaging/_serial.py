"""Serial comparison of herniation volumes: signed resorption, grade, detectable change.

The default grade thresholds are read from the evidence base
(:func:`resorb.evidence.evidence_value`, record ``resorption_grade_thresholds``);
the minimal detectable change (MDC) of each comparison comes from the
measurement-error model of herniation volumes, relative to their size
(:func:`resorb.imaging.volume_error_model`). Both can be replaced by the caller.

References
----------
.. [1] Zou T, Liu XY, Wang PC, et al. Incidence of spontaneous resorption of
   lumbar disc herniation: a meta-analysis. Clin Spine Surg 2024;37(6):256-269.
   doi:10.1097/BSD.0000000000001490, PMID 37559207. Thresholds 25 %, 50 % and
   100 % (complete).
.. [2] Lurie JD, et al. Reliability of magnetic resonance imaging readings for
   lumbar disc herniation in SPORT. Spine 2008;33(9):991-8. PMID 18427321:
   disc-fragment area ICC 0.65-0.83, from which the relative error is derived.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from resorb.errors import EvidenceError, InvalidInputError, WithinMeasurementErrorWarning

__all__ = [
    "DAYS_PER_MONTH",
    "ResorptionGrade",
    "ResorptionGrading",
    "ResorptionResult",
    "compare_volumes",
]

#: Mean Gregorian month (365.25 / 12 days), used for rates per month.
DAYS_PER_MONTH = 365.25 / 12.0

#: Decimal places kept before comparing a percent with a threshold, so that
#: e.g. 1000 -> 750 mm3 grades as exactly 25 % despite binary rounding.
_GRADE_DECIMALS = 9


class ResorptionGrade(StrEnum):
    """Grade of change of herniation volume between two MRI studies.

    Thresholds are those of :class:`ResorptionGrading`; the names follow the
    degrees pooled by Zou et al. (PMID 37559207).
    """

    COMPLETE = "complete"
    """Fragment no longer visible: follow-up volume 0 (resorption 100 %)."""
    SIGNIFICANT = "significant"
    """Resorption >= the significant threshold (default 50 %) but not complete."""
    PARTIAL = "partial"
    """Resorption >= the partial threshold (default 25 %) and below significant."""
    UNCHANGED = "unchanged"
    """Between the enlarged and the partial thresholds (default -25 % < x < 25 %)."""
    ENLARGED = "enlarged"
    """Resorption <= the enlarged threshold (default -25 %): the herniation grew."""


@dataclass(frozen=True, slots=True)
class ResorptionGrading:
    """Thresholds (percent of the baseline volume) that turn a resorption percent into a grade.

    ``complete`` needs a follow-up volume of exactly 0 (the fragment is no
    longer visible); otherwise ``significant`` if percent >= ``significant_percent``,
    ``partial`` if >= ``partial_percent``, ``enlarged`` if <= ``enlarged_percent``,
    and ``unchanged`` in between.

    Thresholds left out (None) are read from the evidence base, so
    ``ResorptionGrading()`` is the default grading (:meth:`from_evidence`) and
    ``ResorptionGrading(significant_percent=30)`` changes one threshold only.
    Any thresholds are allowed if
    ``enlarged_percent < 0 < partial_percent < significant_percent < 100``.

    Attributes
    ----------
    partial_percent, significant_percent, enlarged_percent : float
        Thresholds in percent.
    sources : tuple of str
        Where the thresholds come from: ``"doi:..."``, ``"pmid:..."``,
        ``"assumption:enlarged_percent"`` for the evidence defaults, ``"user"``
        (or ``"user:<name>"`` per threshold) for the caller's own.
    evidence_id : str or None
        Evidence-base record the (remaining) defaults were read from.

    Examples
    --------
    >>> ResorptionGrading().significant_percent
    50.0
    >>> g = ResorptionGrading(significant_percent=30)
    >>> g.partial_percent, g.sources[0]
    (25.0, 'user:significant_percent')
    """

    partial_percent: float | None = None
    significant_percent: float | None = None
    enlarged_percent: float | None = None
    sources: tuple[str, ...] | None = None
    evidence_id: str | None = None

    def __post_init__(self) -> None:
        names = ("partial_percent", "significant_percent", "enlarged_percent")
        missing = [n for n in names if getattr(self, n) is None]
        sources = None if self.sources is None else tuple(self.sources)
        if missing:
            base = _grading_from_evidence(self.evidence_id or "resorption_grade_thresholds")
            for n in missing:
                object.__setattr__(self, n, getattr(base, n))
            object.__setattr__(self, "evidence_id", base.evidence_id)
            if sources is None:
                given = [n for n in names if n not in missing]
                sources = tuple(f"user:{n}" for n in given) + (base.sources or ())
        elif sources is None:
            sources = ("user",)
        object.__setattr__(self, "sources", sources)
        for name in names:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise InvalidInputError(f"grading.{name}", f"{v!r}", allowed="a finite percent")
            object.__setattr__(self, name, float(v))
        enlarged, partial, significant = self._thresholds()
        if not enlarged < 0 < partial < significant < 100:
            raise InvalidInputError(
                "grading",
                f"enlarged {enlarged:g} %, partial {partial:g} %, significant {significant:g} %",
                allowed="enlarged < 0 < partial < significant < 100 (percent)",
            )

    def _thresholds(self) -> tuple[float, float, float]:
        """(enlarged, partial, significant) percent; all set once the object is built."""
        e, p, s = self.enlarged_percent, self.partial_percent, self.significant_percent
        if e is None or p is None or s is None:  # pragma: no cover - filled in __post_init__
            raise InvalidInputError("grading", "thresholds missing")
        return e, p, s

    @classmethod
    def from_evidence(cls, record_id: str = "resorption_grade_thresholds") -> ResorptionGrading:
        """Default thresholds from the evidence base (Zou et al. 2023, PMID 37559207)."""
        return _grading_from_evidence(record_id)

    def grade(self, resorption_percent: float, *, v1_mm3: float) -> ResorptionGrade:
        """Grade one signed resorption percent; ``v1_mm3`` decides ``complete``."""
        if v1_mm3 == 0:
            return ResorptionGrade.COMPLETE
        pct = round(resorption_percent, _GRADE_DECIMALS)
        enlarged, partial, significant = self._thresholds()
        if pct >= significant:
            return ResorptionGrade.SIGNIFICANT
        if pct >= partial:
            return ResorptionGrade.PARTIAL
        if pct <= enlarged:
            return ResorptionGrade.ENLARGED
        return ResorptionGrade.UNCHANGED

    def to_dict(self) -> dict[str, object]:
        return {
            "complete": "follow-up volume 0 (100 %)",
            "significant_percent": self.significant_percent,
            "partial_percent": self.partial_percent,
            "enlarged_percent": self.enlarged_percent,
            "sources": list(self.sources or ()),
            "evidence_id": self.evidence_id,
        }


def _citations(rec: object) -> tuple[str, ...]:
    out: list[str] = []
    for c in getattr(rec, "citations", ()) or ():
        if c.get("doi"):
            out.append(f"doi:{c['doi']}")
        if c.get("pmid"):
            out.append(f"pmid:{c['pmid']}")
    if getattr(rec, "assumption", False):
        out.append("assumption")
    return tuple(out)


def _pick(values: Mapping[str, float], *names: str) -> float | None:
    for n in names:
        if n in values:
            return float(values[n])
    return None


@lru_cache(maxsize=4)
def _grading_from_evidence(record_id: str) -> ResorptionGrading:
    from resorb.evidence import evidence_value

    rec = evidence_value(record_id)
    if not isinstance(rec.value, Mapping):
        raise EvidenceError(f"evidence value {record_id!r} is not a set of named thresholds")
    values = rec.value
    partial = _pick(values, "partial_percent", "partial")
    significant = _pick(values, "significant_percent", "significant")
    enlarged = _pick(values, "enlarged_percent", "enlarged")
    missing = [
        n
        for n, v in (
            ("partial_percent", partial),
            ("significant_percent", significant),
            ("enlarged_percent", enlarged),
        )
        if v is None
    ]
    if missing:
        raise EvidenceError(f"evidence value {record_id!r} lacks {', '.join(missing)}")
    sources = list(_citations(rec))
    try:  # the enlargement cut-off has no source; its own record says so
        mirror = evidence_value("resorption_enlargement_threshold_percent")
    except EvidenceError:
        mirror = None
    if mirror is not None and mirror.assumption and mirror.scalar == enlarged:
        sources.append("assumption:enlarged_percent")
    return ResorptionGrading(
        partial_percent=partial,
        significant_percent=significant,
        enlarged_percent=enlarged,
        sources=tuple(sources),
        evidence_id=record_id,
    )


@dataclass(frozen=True, slots=True)
class ResorptionResult:
    """Change of herniation volume between a baseline and a follow-up MRI.

    Attributes
    ----------
    v0_mm3, v1_mm3 : float
        Baseline and follow-up volume (mm3).
    resorption_percent : float
        Signed resorption, (V0 - V1) / V0 x 100; negative when the herniation grew.
    grade : ResorptionGrade
    delta_mm3 : float
        Change of volume, V1 - V0 (mm3; negative when it shrank).
    within_mdc : bool
        True when ``|delta_mm3| <= mdc_mm3``: the change could be measurement
        error, whatever the grade says.
    mdc_mm3 : float
        Minimal detectable change of this pair of volumes (mm3): it grows with
        the volumes measured (see :func:`compare_volumes`, Notes).
    mdc_sources : tuple of str
        Where ``mdc_mm3`` comes from (``"user"`` if given by the caller).
    days : float or None
        Days between the two studies, if given.
    resorption_percent_per_month : float or None
        Linear rate, ``resorption_percent / days x 30.4375``.
    delta_mm3_per_month : float or None
        Linear rate of volume change (mm3 per month; negative when shrinking).
    grading : ResorptionGrading
        Thresholds used.
    """

    v0_mm3: float
    v1_mm3: float
    resorption_percent: float
    grade: ResorptionGrade
    delta_mm3: float
    within_mdc: bool
    mdc_mm3: float
    grading: ResorptionGrading
    mdc_sources: tuple[str, ...] = ("user",)
    days: float | None = None
    resorption_percent_per_month: float | None = None
    delta_mm3_per_month: float | None = None


def _positive(value: object, field: str, *, allow_zero: bool) -> float:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInputError(
            field, f"{value!r} is not a number", allowed="a volume in mm3"
        ) from None
    ok = math.isfinite(x) and (x >= 0 if allow_zero else x > 0)
    if not ok:
        allowed = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise InvalidInputError(field, f"{value!r}", allowed=allowed)
    return x


def compare_volumes(
    v0_mm3: float,
    v1_mm3: float,
    *,
    days: float | None = None,
    grading: ResorptionGrading | None = None,
    mdc_mm3: float | None = None,
    readers: str = "two",
    warn: bool = True,
) -> ResorptionResult:
    """Compare a baseline and a follow-up herniation volume.

    Parameters
    ----------
    v0_mm3 : float
        Baseline volume (mm3, > 0).
    v1_mm3 : float
        Follow-up volume (mm3, >= 0; 0 = fragment no longer visible).
    days : float, keyword-only, optional
        Days between the two studies (> 0); adds rates per month.
    grading : ResorptionGrading, keyword-only, optional
        Grade thresholds; default :meth:`ResorptionGrading.from_evidence`
        (Zou et al. 2023: 25 %, 50 %, complete; enlarged at -25 %).
    mdc_mm3 : float, keyword-only, optional
        Minimal detectable change (mm3, >= 0); default: from the error model of
        herniation volumes for this pair of volumes.
    readers : {"two", "same"}, keyword-only, default ``"two"``
        Whether different readers (default) or the same reader measured the
        two studies; selects the relative error of the default MDC.
    warn : bool, keyword-only, default True
        Issue :class:`~resorb.errors.WithinMeasurementErrorWarning` when the
        change is graded as something other than ``unchanged`` but lies within
        the MDC.

    Returns
    -------
    ResorptionResult

    Notes
    -----
    The default MDC is that of the pair: one measurement of a volume ``V`` has
    the SD ``sqrt(floor^2 + (r V)^2)`` (:class:`VolumeErrorModel`; ``r`` 0.24
    with two readers, 0.17 with one, floor 25 mm3, derived from the
    fragment-area ICC of Lurie 2008 and the volume spread of Lee 2017; the
    records label the assumptions), and the MDC is
    ``1.96 sqrt(SD(V0)^2 + SD(V1)^2)``. A small herniation therefore has a
    small MDC: 400 -> 0 mm3 (MDC 201 mm3) is beyond measurement error, while
    1,000 -> 700 mm3 (MDC 581 mm3) is not. ``within_mdc`` is
    ``|V1 - V0| <= mdc_mm3`` (a change counts only beyond the limits, as in
    Kjaer et al. 2016).

    Examples
    --------
    >>> r = compare_volumes(1918.35, 653.66)   # Orthop Surg 2014, Fig. 3 (PMID 25179358)
    >>> round(r.resorption_percent, 2), r.grade.value, r.within_mdc
    (65.93, 'significant', False)
    """
    v0 = _positive(v0_mm3, "v0_mm3", allow_zero=False)
    v1 = _positive(v1_mm3, "v1_mm3", allow_zero=True)
    if grading is None:
        grading = ResorptionGrading.from_evidence()
    elif not isinstance(grading, ResorptionGrading):
        raise InvalidInputError(
            "grading", f"{type(grading).__name__}", allowed="a ResorptionGrading"
        )
    if readers not in ("two", "same"):
        raise InvalidInputError("readers", f"{readers!r}", allowed="two, same")
    if mdc_mm3 is None:
        from resorb.imaging._error import volume_error_model

        model = volume_error_model(readers)
        mdc, mdc_sources = model.mdc_mm3(v0, v1), model.sources
    else:
        mdc, mdc_sources = _positive(mdc_mm3, "mdc_mm3", allow_zero=True), ("user",)
    pct = (v0 - v1) / v0 * 100.0
    grade = grading.grade(pct, v1_mm3=v1)
    delta = v1 - v0
    within = abs(delta) <= mdc
    per_month = delta_month = None
    d = None
    if days is not None:
        d = _positive(days, "days", allow_zero=False)
        per_month = pct / d * DAYS_PER_MONTH
        delta_month = delta / d * DAYS_PER_MONTH
    if warn and within and grade is not ResorptionGrade.UNCHANGED:
        warnings.warn(
            f"volume change of {delta:+.0f} mm3 (graded {grade.value}) is within the "
            f"minimal detectable change of {mdc:.0f} mm3",
            WithinMeasurementErrorWarning,
            stacklevel=2,
        )
    return ResorptionResult(
        v0_mm3=v0,
        v1_mm3=v1,
        resorption_percent=pct,
        grade=grade,
        delta_mm3=delta,
        within_mdc=within,
        mdc_mm3=mdc,
        mdc_sources=mdc_sources,
        grading=grading,
        days=d,
        resorption_percent_per_month=per_month,
        delta_mm3_per_month=delta_month,
    )
