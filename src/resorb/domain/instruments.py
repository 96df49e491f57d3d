"""The patient-reported and examination instruments: their items and allowed values.

What a case records (NRS and VAS pain, Oswestry answers, JOA items) and the
range each item may take. Scoring them (the ODI percentage and band, JOA
recovery rate, minimal important change) is :mod:`resorb.scores`, which
builds on these definitions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

from resorb.errors import InvalidScoreError

__all__ = [
    "JOA_ITEM_RANGES",
    "ODI_SECTIONS",
    "PAIN_SCALE_RANGES",
    "JoaItems",
    "check_odi_answers",
    "validate_nrs",
    "validate_vas_mm",
]

#: Allowed range of each pain scale: 0-10 numeric rating scale, 0-100 mm visual analogue scale.
PAIN_SCALE_RANGES: Mapping[str, tuple[int, int]] = {"nrs": (0, 10), "vas_mm": (0, 100)}


def _check_pain(scale: str, value: float, field: str) -> None:
    lo, hi = PAIN_SCALE_RANGES[scale]
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise InvalidScoreError(field, f"{value!r} is out of range", allowed=f"{lo}-{hi}")


def validate_nrs(value: float, *, field: str = "nrs") -> float:
    """Check a 0-10 numeric rating scale value."""
    _check_pain("nrs", value, field)
    return value


def validate_vas_mm(value: float, *, field: str = "vas_mm") -> float:
    """Check a 0-100 mm visual analogue scale value."""
    _check_pain("vas_mm", value, field)
    return value


#: The ten sections of ODI version 2.0, in questionnaire order (Fairbank & Pynsent 2000).
ODI_SECTIONS: tuple[str, ...] = (
    "pain_intensity",
    "personal_care",
    "lifting",
    "walking",
    "sitting",
    "standing",
    "sleeping",
    "sex_life",
    "social_life",
    "travelling",
)


def check_odi_answers(answers: Sequence[int | None]) -> tuple[int, int]:
    """Check the ten Oswestry answers (each 0-5, ``None`` for a skipped section).

    Returns
    -------
    (int, int)
        The sum of the answered sections and how many were answered (1-10).

    Raises
    ------
    InvalidScoreError
        Not ten answers (``odi_answers``), a value out of range
        (``odi_answers.SECTION``), or no section answered.
    """
    answers = list(answers)
    if len(answers) != len(ODI_SECTIONS):
        raise InvalidScoreError(
            "odi_answers", f"got {len(answers)} answers", allowed="exactly 10 sections"
        )
    total = 0
    answered = 0
    for section, value in zip(ODI_SECTIONS, answers, strict=True):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 5:
            raise InvalidScoreError(
                f"odi_answers.{section}", f"{value!r} is out of range", allowed="0-5 or skipped"
            )
        total += value
        answered += 1
    if answered == 0:
        raise InvalidScoreError(
            "odi_answers", "no section answered", allowed="at least one section 0-5"
        )
    return total, answered


#: Allowed points of each JOA low-back item (bladder: 0, -3 or -6).
JOA_ITEM_RANGES: Mapping[str, tuple[int, int]] = {
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
        for name, (lo, hi) in JOA_ITEM_RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise InvalidScoreError(
                    f"joa_items.{name}", f"{value!r} is out of range", allowed=f"{lo}-{hi}"
                )
        if self.bladder not in (0, -3, -6):
            raise InvalidScoreError(
                "joa_items.bladder", f"{self.bladder!r} is not allowed", allowed="0, -3, -6"
            )

    @classmethod
    def from_mapping(cls, items: Mapping[str, int]) -> JoaItems:
        """Build from a mapping; unknown or missing items are refused by name."""
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(items) - set(names))
        if unknown:
            raise InvalidScoreError(
                f"joa_items.{unknown[0]}", "unknown item", allowed=", ".join(names)
            )
        for name, value in items.items():  # report a bad value before a missing item
            lo, hi = JOA_ITEM_RANGES.get(name, (-6, 0))
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                allowed = f"{lo}-{hi}" if name in JOA_ITEM_RANGES else "0, -3, -6"
                raise InvalidScoreError(
                    f"joa_items.{name}", f"{value!r} is out of range", allowed=allowed
                )
        missing = [n for n in names if n != "bladder" and n not in items]
        if missing:
            raise InvalidScoreError(
                f"joa_items.{missing[0]}",
                "item missing",
                allowed="every item except bladder is required",
            )
        return cls(**dict(items))

    @property
    def subjective(self) -> int:
        return self.low_back_pain + self.leg_pain + self.gait

    @property
    def clinical_signs(self) -> int:
        return self.slr + self.sensory + self.motor

    @property
    def adl(self) -> int:
        return (
            self.adl_turning_over
            + self.adl_standing
            + self.adl_washing
            + self.adl_leaning_forward
            + self.adl_sitting
            + self.adl_lifting
            + self.adl_walking
        )

    @property
    def total(self) -> int:
        """Total score, -6 to 29 (the bladder item subtracts; not clamped at 0)."""
        return self.subjective + self.clinical_signs + self.adl + self.bladder
