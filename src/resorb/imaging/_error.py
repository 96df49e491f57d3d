"""Measurement error of a herniation volume, relative to its size.

One measurement of a herniation of volume ``V`` (mm3) has the standard deviation

    SD(V) = sqrt(floor^2 + (r V)^2)

with ``r`` the relative SD and ``floor`` a small absolute term, so that a
fragment no longer visible (0 mm3) is not measured with zero error. The minimal
detectable change (MDC, 95 %) of a pair of measurements is

    MDC(V0, V1) = 1.96 sqrt(SD(V0)^2 + SD(V1)^2).

``r`` is derived from the reliability of herniation readings (Lurie et al.,
Spine 2008;33:991-8, PMID 18427321: disc-fragment area ICC 0.65-0.83) and the
spread of herniation volumes (Lee et al. 2017, doi:10.1155/2017/2147408), as
``SEM = SD_between x sqrt(1 - ICC)`` on the log scale; the evidence records
``volume_relative_sd_two_readers`` / ``volume_relative_sd_same_reader`` and
``volume_absolute_sd_floor_mm3`` hold the numbers and label the assumptions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, overload

import numpy as np
import numpy.typing as npt

from resorb.errors import InvalidInputError

if TYPE_CHECKING:
    from resorb.evidence import EvidenceValue

__all__ = ["VolumeErrorModel", "volume_error_model"]

_Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class VolumeErrorModel:
    """SD of one herniation-volume measurement as a function of the volume.

    Attributes
    ----------
    relative_sd : float
        SD as a fraction of the volume.
    floor_sd_mm3 : float
        Absolute term (mm3).
    readers : str
        ``"two"`` (different readers at the two studies) or ``"same"``.
    sources : tuple of str
        ``doi:``/``pmid:`` of the records behind the numbers, and ``assumption``.
    evidence_ids : tuple of str
        The evidence records used.
    """

    relative_sd: float
    floor_sd_mm3: float
    readers: str = "two"
    sources: tuple[str, ...] = ()
    evidence_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("relative_sd", "floor_sd_mm3"):
            v = getattr(self, name)
            if (
                isinstance(v, bool)
                or not isinstance(v, int | float)
                or not (math.isfinite(v) and v >= 0)
            ):
                raise InvalidInputError(f"error_model.{name}", f"{v!r}", allowed="a number >= 0")
        if self.relative_sd == 0 and self.floor_sd_mm3 == 0:
            raise InvalidInputError(
                "error_model", "both terms are 0", allowed="a relative or an absolute SD > 0"
            )

    @overload
    def sd_mm3(self, volume_mm3: float) -> float: ...

    @overload
    def sd_mm3(self, volume_mm3: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...

    def sd_mm3(
        self, volume_mm3: float | npt.NDArray[np.float64]
    ) -> float | npt.NDArray[np.float64]:
        """SD of one measurement of ``volume_mm3`` (float or array), mm3."""
        v = np.asarray(volume_mm3, dtype=float)
        out = np.sqrt(self.floor_sd_mm3**2 + (self.relative_sd * v) ** 2)
        return float(out) if out.ndim == 0 else out

    def mdc_mm3(self, v0_mm3: float, v1_mm3: float) -> float:
        """Minimal detectable change (95 %) between two measured volumes, mm3."""
        return _Z95 * math.hypot(self.sd_mm3(v0_mm3), self.sd_mm3(v1_mm3))

    def to_dict(self) -> dict[str, object]:
        return {
            "relative_sd": self.relative_sd,
            "floor_sd_mm3": self.floor_sd_mm3,
            "readers": self.readers,
            "formula": "SD(V) = sqrt(floor^2 + (relative_sd V)^2); "
            "MDC = 1.96 sqrt(SD(V0)^2 + SD(V1)^2)",
            "sources": list(self.sources),
            "evidence_ids": list(self.evidence_ids),
        }


def _citations(rec: EvidenceValue) -> list[str]:
    out = []
    for c in rec.citations:
        if c.get("doi"):
            out.append(f"doi:{c['doi']}")
        if c.get("pmid"):
            out.append(f"pmid:{c['pmid']}")
    return out


@lru_cache(maxsize=2)
def volume_error_model(readers: str = "two") -> VolumeErrorModel:
    """The evidence-based error model of a herniation volume.

    Parameters
    ----------
    readers : {"two", "same"}
        ``"two"``: different readers measured the two studies (default, the
        usual clinical situation); ``"same"``: one reader measured both.

    Returns
    -------
    VolumeErrorModel

    Examples
    --------
    >>> m = volume_error_model()
    >>> round(m.mdc_mm3(400, 0))   # a 400 mm3 fragment that is no longer visible
    201
    """
    from resorb.evidence import evidence_value

    ids = {"two": "volume_relative_sd_two_readers", "same": "volume_relative_sd_same_reader"}
    if readers not in ids:
        raise InvalidInputError("readers", f"{readers!r}", allowed="two, same")
    rel = evidence_value(ids[readers])
    floor = evidence_value("volume_absolute_sd_floor_mm3")
    sources: list[str] = []
    for rec in (rel, floor):
        for c in _citations(rec):
            if c not in sources:
                sources.append(c)
    sources.append("assumption")
    return VolumeErrorModel(
        relative_sd=rel.scalar,
        floor_sd_mm3=floor.scalar,
        readers=readers,
        sources=tuple(sources),
        evidence_ids=(rel.id, floor.id),
    )
