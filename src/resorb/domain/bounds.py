"""Plausible values: one set of limits for every way data enters resorb.

Case files, the web API and forms, the CSV import and the DICOM import all call
these checks, so a value refused by one door is refused by all of them.

- clinical dates (onset, visit, MRI, therapy): 1 January 1934 to today
  (``earliest_plausible_clinical_year``: Mixter and Barr 1934 first described
  lumbar disc herniation); a therapy may end in the future;
- birth year: today's year - 120 to today's year, and age 0-120 years
  (``max_plausible_age_years``, our assumption);
- herniation volume: finite, 0-30,000 mm3 (``max_plausible_herniation_volume_mm3``,
  our assumption: a larger number is a unit error);
- herniation diameter: finite, 0-100 mm each (``max_plausible_herniation_diameter_mm``,
  our assumption).

Scores (NRS, VAS, ODI, JOA, RMDQ, MRC, SLR) are limited by their own scales in
:mod:`resorb.scores` and the domain objects.

Every check raises :class:`~resorb.errors.InvalidInputError` naming the field
and the accepted range; ``is_plausible_*`` answer without raising (used to show
a stored legacy value as invalid instead of failing a page).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from resorb.errors import InvalidInputError

__all__ = [
    "PlausibleBounds",
    "check_age_years",
    "check_birth_year",
    "check_clinical_date",
    "check_diameters_mm",
    "check_volume_mm3",
    "implausible_fields",
    "is_plausible_date",
    "is_plausible_volume_mm3",
    "plausible_bounds",
]


@dataclass(frozen=True, slots=True)
class PlausibleBounds:
    """The limits, read from the evidence base (see the module docstring)."""

    earliest_date: dt.date
    max_age_years: int
    max_volume_mm3: float
    max_diameter_mm: float


@cache
def plausible_bounds() -> PlausibleBounds:
    """The limits of plausible values (read once from the evidence base)."""
    from resorb.evidence import evidence_value

    year = int(evidence_value("earliest_plausible_clinical_year").scalar)
    return PlausibleBounds(
        earliest_date=dt.date(year, 1, 1),
        max_age_years=int(evidence_value("max_plausible_age_years").scalar),
        max_volume_mm3=evidence_value("max_plausible_herniation_volume_mm3").scalar,
        max_diameter_mm=evidence_value("max_plausible_herniation_diameter_mm").scalar,
    )


def is_plausible_date(value: object, *, today: dt.date | None = None) -> bool:
    """True for a date between the earliest plausible date and today."""
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        return False
    today = today or dt.date.today()
    return plausible_bounds().earliest_date <= value <= today


def check_clinical_date(
    value: dt.date, *, field: str, today: dt.date | None = None, allow_future: bool = False
) -> dt.date:
    """Refuse a date before 1934 (no lumbar disc herniation was diagnosed earlier) or,
    unless ``allow_future`` (the planned end of a therapy), after ``today``."""
    today = today or dt.date.today()
    earliest = plausible_bounds().earliest_date
    latest = dt.date.max if allow_future else today
    shown = f"a date from {earliest} to {today}" if not allow_future else f"a date from {earliest}"
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise InvalidInputError(field, f"{value!r} is not a date", allowed=shown)
    if value < earliest:
        raise InvalidInputError(
            field,
            f"{value} is before {earliest.year}, the year lumbar "
            "disc herniation was first described",
            allowed=shown,
        )
    if value > latest:
        raise InvalidInputError(field, f"{value} is in the future", allowed=f"a date up to {today}")
    # A far-future end date still has to leave room for the research date shift.
    if allow_future and value.year > 9000:
        raise InvalidInputError(
            field,
            f"{value} is not a plausible date",
            allowed=f"a date from {earliest} to 9000-12-31",
        )
    return value


def check_birth_year(value: int, *, field: str, today: dt.date | None = None) -> int:
    """Refuse a birth year in the future or more than 120 years ago."""
    today = today or dt.date.today()
    lo = today.year - plausible_bounds().max_age_years
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(field, f"{value!r} is not a year", allowed=f"{lo}-{today.year}")
    if value > today.year:
        raise InvalidInputError(field, f"{value} is in the future", allowed=f"{lo}-{today.year}")
    if value < lo:
        raise InvalidInputError(
            field,
            f"{value} is more than {plausible_bounds().max_age_years} years ago",
            allowed=f"{lo}-{today.year}",
        )
    return value


def check_age_years(value: int, *, field: str) -> int:
    """Refuse an age below 0 or above 120 years."""
    hi = plausible_bounds().max_age_years
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= hi:
        raise InvalidInputError(field, f"{value} is out of range", allowed=f"0-{hi}")
    return value


def is_plausible_volume_mm3(value: object) -> bool:
    """True for a finite volume between 0 and the largest plausible herniation."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= plausible_bounds().max_volume_mm3
    )


def check_volume_mm3(value: float, *, field: str) -> float:
    """Refuse a volume that is not finite, negative, or above 30,000 mm3 (a unit error)."""
    hi = plausible_bounds().max_volume_mm3
    allowed = f"a volume from 0 to {hi:,.0f} mm3"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(field, f"{value!r} is not a number", allowed=allowed)
    if not math.isfinite(value):
        raise InvalidInputError(field, "must be a finite number", allowed=allowed)
    if value < 0:
        raise InvalidInputError(field, f"{value} is negative", allowed=allowed)
    if value > hi:
        raise InvalidInputError(
            field,
            f"{value:.6g} mm3 is larger than any lumbar herniation (wrong unit?)",
            allowed=allowed,
        )
    return float(value)


def check_diameters_mm(values: object, *, field: str) -> tuple[float, float, float]:
    """Refuse diameters that are not finite, negative or above 100 mm (a unit error)."""
    hi = plausible_bounds().max_diameter_mm
    allowed = f"three diameters from 0 to {hi:.0f} mm: AP, transverse, craniocaudal"
    if not isinstance(values, Iterable):
        raise InvalidInputError(field, f"{values!r} is not a list", allowed=allowed)
    items = tuple(values)
    if len(items) != 3:
        raise InvalidInputError(field, f"gives {len(items)} values", allowed=allowed)
    checked: list[float] = []
    for d in items:
        if (
            isinstance(d, bool)
            or not isinstance(d, int | float)
            or not math.isfinite(d)
            or not 0 <= d <= hi
        ):
            shown = f"{d:.6g}" if isinstance(d, float) else repr(d)
            raise InvalidInputError(field, f"{shown} is out of range", allowed=allowed)
        checked.append(float(d))
    return (checked[0], checked[1], checked[2])


def implausible_fields(record: object, *, today: dt.date | None = None) -> list[str]:
    """Names of a stored record's attributes whose values lie outside these bounds.

    Looks at ``date``, ``onset_date``, ``start``, ``end`` (may lie in the
    future), ``volume_mm3``, ``diameters_mm`` and ``birth_year`` where the
    record has them. Used to show a row stored before the bounds were enforced
    as invalid instead of failing on it.
    """
    today = today or dt.date.today()
    bad = []
    for name in ("date", "onset_date", "start"):
        value = getattr(record, name, None)
        if value is not None and not is_plausible_date(value, today=today):
            bad.append(name)
    end = getattr(record, "end", None)
    if end is not None and not is_plausible_date(end, today=dt.date(9000, 12, 31)):
        bad.append("end")
    volume = getattr(record, "volume_mm3", None)
    if volume is not None and not is_plausible_volume_mm3(volume):
        bad.append("volume_mm3")
    diameters = getattr(record, "diameters_mm", None)
    if diameters is not None:
        try:
            check_diameters_mm(diameters, field="diameters_mm")
        except InvalidInputError:
            bad.append("diameters_mm")
    birth_year = getattr(record, "birth_year", None)
    if birth_year is not None:
        try:
            check_birth_year(birth_year, field="birth_year", today=today)
        except InvalidInputError:
            bad.append("birth_year")
    return bad
