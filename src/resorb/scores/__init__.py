"""Outcome scores: ODI, JOA (29-point) and recovery rate, NRS/VAS, RMDQ, MCID flags."""

from resorb._public import publish as _publish
from resorb.scores._joa import (
    JOA_MAX,
    JOA_RECOVERY_GRADES_CHINESE,
    JoaItems,
    joa_recovery_grade,
    joa_recovery_rate_percent,
)
from resorb.scores._odi import ODI_BANDS, ODI_SECTIONS, OdiResult, odi_band, odi_percent
from resorb.scores._pain import (
    MCID,
    MCID_RELATIVE_ID,
    McidResult,
    mcid_improvement,
    nrs_from_vas_mm,
    rmdq_total,
    validate_nrs,
    validate_vas_mm,
)

__all__ = [
    "JOA_MAX",
    "JOA_RECOVERY_GRADES_CHINESE",
    "MCID",
    "MCID_RELATIVE_ID",
    "ODI_BANDS",
    "ODI_SECTIONS",
    "JoaItems",
    "McidResult",
    "OdiResult",
    "joa_recovery_grade",
    "joa_recovery_rate_percent",
    "mcid_improvement",
    "nrs_from_vas_mm",
    "odi_band",
    "odi_percent",
    "rmdq_total",
    "validate_nrs",
    "validate_vas_mm",
]

_publish(__name__, globals())
