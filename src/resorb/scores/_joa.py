"""Japanese Orthopaedic Association (JOA) low-back score, 29 points."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

from resorb.errors import InvalidScoreError
from resorb.scores._tables import LazySequence

__all__ = [
    "JOA_MAX",
    "JOA_RECOVERY_GRADES_CHINESE",
    "JoaItems",
    "joa_recovery_grade",
    "joa_recovery_rate_percent",
]

#: Maximum of the 29-point JOA low-back score (bladder item excluded; it only subtracts).
JOA_MAX = 29

_GRADES_ID = "joa_recovery_grades_chinese_percent"


def _chinese_grades() -> tuple[tuple[float, bool, str], ...]:
    from resorb.scores._tables import _value

    out = []
    for key, threshold in _value(_GRADES_ID).items():
        if key.endswith("_at_least"):
            name, inclusive = key.removesuffix("_at_least"), True
        elif key.endswith("_above"):
            name, inclusive = key.removesuffix("_above"), False
        else:  # pragma: no cover - guarded by the evidence test
            raise ValueError(f"{_GRADES_ID}: key {key!r} must end in _at_least or _above")
        out.append((float(threshold), inclusive, name.replace("_", " ")))
    return tuple(sorted(out, key=lambda g: (g[0], not g[1]), reverse=True))


#: Recovery-rate grading used on Chinese JOA forms, read from the evidence record
#: ``joa_recovery_grades_chinese_percent``: 100 % cured, > 60 % markedly effective,
#: 25-60 % effective, < 25 % ineffective. Each entry is ``(threshold_percent,
#: inclusive, grade)``, highest first; a rate reaches a grade when it is at least
#: (inclusive) or above (exclusive) the threshold. The Hirabayashi-style grades
#: could not be verified and are not shipped.
JOA_RECOVERY_GRADES_CHINESE: Sequence[tuple[float, bool, str]] = LazySequence(_chinese_grades)

_RANGES = {
    "low_back_pain": (0, 3),
    "leg_pain": (0, 3),
    "gait": (0, 3),
    "slr": (0, 2),
    "sensory": (0, 2),
    "motor": (0, 2),
    "adl_turning_over": (0, 2),
    "adl_standing": (0, 2),
    "adl_washing": (0, 2),
    "adl_leaning_forward": (0, 2),
    "adl_sitting": (0, 2),
    "adl_lifting": (0, 2),
    "adl_walking": (0, 2),
}


@dataclass(frozen=True, slots=True)
class JoaItems:
    """Items of the JOA low-back score (JOA 1986; 29 points, bladder -6 to 0).

    Subjective symptoms (9): low-back pain, leg pain/tingling, gait, each 0-3.
    Clinical signs (6): straight-leg raise, sensory, motor, each 0-2.
    Restriction of daily activities (14): seven activities, each 0-2.
    Urinary bladder function: 0 normal, -3 mild dysuria, -6 severe dysuria.
    Item points as reproduced on two independent scoring forms (reference
    notes, addendum item 5); the 1986 original was not read.
    """

    low_back_pain: int
    leg_pain: int
    gait: int
    slr: int
    sensory: int
    motor: int
    adl_turning_over: int
    adl_standing: int
    adl_washing: int
    adl_leaning_forward: int
    adl_sitting: int
    adl_lifting: int
    adl_walking: int
    bladder: int = 0

    def __post_init__(self) -> None:
        for name, (lo, hi) in _RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise InvalidScoreError(f"joa_items.{name}", f"{value!r} is out of range",
                                        allowed=f"{lo}-{hi}")
        if self.bladder not in (0, -3, -6):
            raise InvalidScoreError("joa_items.bladder", f"{self.bladder!r} is not allowed",
                                    allowed="0, -3, -6")

    @classmethod
    def from_mapping(cls, items: Mapping[str, int]) -> JoaItems:
        """Build from a mapping; unknown or missing items are refused by name."""
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(items) - set(names))
        if unknown:
            raise InvalidScoreError(f"joa_items.{unknown[0]}", "unknown item",
                                    allowed=", ".join(names))
        for name, value in items.items():  # report a bad value before a missing item
            lo, hi = _RANGES.get(name, (-6, 0))
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise InvalidScoreError(f"joa_items.{name}", f"{value!r} is out of range",
                                        allowed=f"{lo}-{hi}" if name in _RANGES else "0, -3, -6")
        missing = [n for n in names if n != "bladder" and n not in items]
        if missing:
            raise InvalidScoreError(f"joa_items.{missing[0]}", "item missing",
                                    allowed="every item except bladder is required")
        return cls(**dict(items))

    @property
    def subjective(self) -> int:
        return self.low_back_pain + self.leg_pain + self.gait

    @property
    def clinical_signs(self) -> int:
        return self.slr + self.sensory + self.motor

    @property
    def adl(self) -> int:
        return (self.adl_turning_over + self.adl_standing + self.adl_washing
                + self.adl_leaning_forward + self.adl_sitting + self.adl_lifting
                + self.adl_walking)

    @property
    def total(self) -> int:
        """Total score, -6 to 29 (the bladder item subtracts; not clamped at 0)."""
        return self.subjective + self.clinical_signs + self.adl + self.bladder


def _check_joa_total(value: float, field: str) -> None:
    if isinstance(value, bool) or not -6 <= value <= JOA_MAX:
        raise InvalidScoreError(field, f"{value!r} is out of range", allowed=f"-6 to {JOA_MAX}")


def joa_recovery_rate_percent(pre: float, post: float) -> float:
    """JOA recovery rate, (post - pre) / (29 - pre) x 100.

    Parameters
    ----------
    pre, post : float
        JOA totals before and after treatment (-6 to 29).

    Notes
    -----
    Worked example: pre 12, post 24 gives (24 - 12) / (29 - 12) x 100 = 70.6 %.
    The rate is undefined for a pre-treatment score of 29 (no room to recover).

    References
    ----------
    Formula reconfirmed in BioMed Res Int 2019 (table) and two JOA scoring forms
    (reference notes, section 5 and addendum item 5).
    """
    _check_joa_total(pre, "pre")
    _check_joa_total(post, "post")
    if pre >= JOA_MAX:
        raise InvalidScoreError("pre", "a pre-treatment score of 29 leaves nothing to recover",
                                allowed=f"-6 to {JOA_MAX - 1}")
    return (post - pre) / (JOA_MAX - pre) * 100


def joa_recovery_grade(
    rate_percent: float,
    grades: Sequence[tuple[float, bool, str] | tuple[float, str]] = JOA_RECOVERY_GRADES_CHINESE,
    *,
    below: str = "ineffective",
) -> str:
    """Grade a recovery rate with a configurable table (default: Chinese JOA forms).

    Parameters
    ----------
    rate_percent : float
        JOA recovery rate, percent.
    grades : sequence of (threshold_percent, inclusive, grade)
        Highest threshold first. ``inclusive`` True means "at least", False
        "above". A two-item entry ``(threshold_percent, grade)`` is inclusive.
    below : str, default "ineffective"
        Grade of a rate that reaches no threshold.

    Examples
    --------
    >>> joa_recovery_grade(60.0)  # "25-60 % effective" on the forms
    'effective'
    >>> joa_recovery_grade(60.1)
    'markedly effective'
    """
    for entry in grades:
        if len(entry) == 2:
            threshold, name = entry
            inclusive = True
        else:
            threshold, inclusive, name = entry
        if rate_percent > threshold or (inclusive and rate_percent == threshold):
            return name
    return below
