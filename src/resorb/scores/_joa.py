"""Japanese Orthopaedic Association (JOA) low-back score, 29 points."""

from __future__ import annotations

from collections.abc import Sequence

from resorb.domain.instruments import JoaItems
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
        raise InvalidScoreError(
            "pre",
            "a pre-treatment score of 29 leaves nothing to recover",
            allowed=f"-6 to {JOA_MAX - 1}",
        )
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
