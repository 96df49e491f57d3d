"""Oswestry Disability Index (ODI)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from resorb.domain.instruments import ODI_SECTIONS, check_odi_answers
from resorb.errors import InvalidScoreError
from resorb.scores._tables import LazySequence

__all__ = ["ODI_BANDS", "ODI_SECTIONS", "OdiResult", "odi_band", "odi_percent"]


def _odi_bands() -> tuple[tuple[float, str], ...]:
    from resorb.scores._tables import _value

    bands = _value("odi_band_upper_bounds_percent")
    return tuple(
        sorted(((float(upper), name) for name, upper in bands.items()), key=lambda b: b[0])
    )


#: Interpretation bands ``(upper_bound_percent, band)``, upper bound inclusive, after
#: Fairbank & Pynsent 2000; read from the evidence record ``odi_band_upper_bounds_percent``.
ODI_BANDS: Sequence[tuple[float, str]] = LazySequence(_odi_bands)


@dataclass(frozen=True, slots=True)
class OdiResult:
    """ODI score.

    Attributes
    ----------
    odi_percent : float
        Index in percent (0-100).
    answered : int
        Number of sections answered (1-10).
    band : str
        Interpretation band.
    """

    odi_percent: float
    answered: int
    band: str


def odi_band(percent: float) -> str:
    """Interpretation band of an ODI percentage (Fairbank & Pynsent 2000)."""
    if not 0 <= percent <= 100:
        raise InvalidScoreError("odi_percent", f"{percent} is out of range", allowed="0-100")
    for upper, name in ODI_BANDS:
        if percent <= upper:
            return name
    raise AssertionError("unreachable")  # pragma: no cover


def odi_percent(answers: Sequence[int | None]) -> OdiResult:
    """Score the Oswestry Disability Index.

    Parameters
    ----------
    answers : sequence of 10 int or None
        Section scores 0-5 in questionnaire order; ``None`` for a skipped section.

    Returns
    -------
    OdiResult

    Notes
    -----
    Skipped sections are removed from the denominator as Fairbank & Pynsent
    describe: index = sum / (5 x answered) x 100. With all ten answered and a
    total of 16 the index is 32 %; with one section skipped it is 16/45 = 35.6 %.

    References
    ----------
    Fairbank JC, Pynsent PB. The Oswestry Disability Index. Spine
    2000;25(22):2940-52, doi:10.1097/00007632-200011150-00017.
    """
    total, answered = check_odi_answers(answers)
    percent = total / (5 * answered) * 100
    return OdiResult(odi_percent=percent, answered=answered, band=odi_band(percent))
