"""Pain scales, RMDQ and minimal important change (MIC/MCID) flags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from resorb.domain.instruments import PAIN_SCALE_RANGES, validate_nrs, validate_vas_mm
from resorb.errors import InvalidScoreError
from resorb.scores._tables import LazyMapping

__all__ = [
    "MCID",
    "MCID_RELATIVE_ID",
    "McidResult",
    "mcid_improvement",
    "nrs_from_vas_mm",
    "rmdq_total",
    "validate_nrs",
    "validate_vas_mm",
]


@dataclass(frozen=True, slots=True)
class _Mic:
    absolute: float
    unit: str
    relative_percent: float = 30.0
    evidence_id: str = ""


#: Scale -> (evidence id of its absolute MIC, unit shown to users).
_MCID_IDS: dict[str, tuple[str, str]] = {
    "nrs": ("mcid_nrs", "points (0-10)"),
    "vas_mm": ("mcid_vas_mm", "mm (0-100)"),
    "odi_percent": ("mcid_odi", "points (0-100)"),
    "rmdq": ("mcid_rmdq", "points (0-24)"),
}
#: Evidence id of the relative criterion, shared by every scale.
MCID_RELATIVE_ID = "mcid_relative_percent"


def _mcid_table() -> dict[str, _Mic]:
    from resorb.scores._tables import _value

    rel = float(_value(MCID_RELATIVE_ID))
    return {
        scale: _Mic(float(_value(vid)), unit, rel, vid) for scale, (vid, unit) in _MCID_IDS.items()
    }


#: Minimal important change after Ostelo RW et al. Spine 2008;33(1):90-4 (PMID
#: 18165753), read from the evidence records ``mcid_nrs``, ``mcid_vas_mm``,
#: ``mcid_odi``, ``mcid_rmdq`` and ``mcid_relative_percent`` (one copy of each number).
MCID: Mapping[str, _Mic] = LazyMapping(_mcid_table)

_RANGES = {**PAIN_SCALE_RANGES, "odi_percent": (0, 100), "rmdq": (0, 24)}


@dataclass(frozen=True, slots=True)
class McidResult:
    """Change on a scale where lower is better, against its MIC."""

    scale: str
    baseline: float
    followup: float
    improvement: float
    improvement_percent: float | None
    mcid_absolute: float
    mcid_relative_percent: float
    reached_absolute: bool
    reached_relative: bool

    @property
    def reached(self) -> bool:
        """True when either the absolute or the relative MIC is reached."""
        return self.reached_absolute or self.reached_relative


def _check(scale: str, value: float, field: str) -> None:
    lo, hi = _RANGES[scale]
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise InvalidScoreError(field, f"{value!r} is out of range", allowed=f"{lo}-{hi}")


def nrs_from_vas_mm(vas_mm: float) -> float:
    """Express a 100-mm VAS on the 0-10 scale (linear rescaling, no rounding)."""
    return validate_vas_mm(vas_mm) / 10.0


def rmdq_total(answers: Sequence[bool | int]) -> int:
    """Roland-Morris Disability Questionnaire total (24 yes/no items, 0-24).

    Each "yes" (``True`` or 1) scores one point. Roland M, Morris R. Spine
    1983;8(2):141-4.
    """
    answers = list(answers)
    if len(answers) != 24:
        raise InvalidScoreError(
            "rmdq_answers", f"got {len(answers)} answers", allowed="exactly 24 yes/no items"
        )
    total = 0
    for i, a in enumerate(answers, start=1):
        if a not in (0, 1, True, False):
            raise InvalidScoreError(f"rmdq_answers.{i}", f"{a!r} is not yes/no", allowed="0/1")
        total += int(a)
    return total


def mcid_improvement(scale: str, baseline: float, followup: float) -> McidResult:
    """Whether the improvement from ``baseline`` to ``followup`` reaches the MIC.

    Parameters
    ----------
    scale : {"nrs", "vas_mm", "odi_percent", "rmdq"}
        Scale on which lower is better.
    baseline, followup : float
        Scores at the two time points.

    Notes
    -----
    Thresholds of :data:`MCID`, read from the evidence base (Ostelo 2008, PMID
    18165753): NRS 2 points, VAS 15 mm, ODI 10 points, RMDQ 5 points, or 30 %
    improvement from baseline. The relative criterion is not defined for a
    baseline of 0.
    """
    if scale not in MCID:
        raise InvalidScoreError("scale", f"{scale!r} is not known", allowed=", ".join(MCID))
    _check(scale, baseline, "baseline")
    _check(scale, followup, "followup")
    mic = MCID[scale]
    improvement = baseline - followup
    rel = improvement / baseline * 100 if baseline > 0 else None
    return McidResult(
        scale=scale,
        baseline=baseline,
        followup=followup,
        improvement=improvement,
        improvement_percent=rel,
        mcid_absolute=mic.absolute,
        mcid_relative_percent=mic.relative_percent,
        reached_absolute=improvement >= mic.absolute,
        reached_relative=rel is not None and rel >= mic.relative_percent,
    )
