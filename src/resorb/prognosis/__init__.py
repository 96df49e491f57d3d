"""Prognosis: resorption probability for a case, forecast from serial volumes,
red-flag triage and the management pathway.

One concern per private module, re-exported here: result types (``_types``),
probability factors (``_factors``), the estimate (``_probability``), the course
prior and kinetics (``_kinetics``), conditioning on MRIs (``_posterior``), the
volume forecast (``_forecast``), triage and management.
"""

from resorb._public import publish as _publish
from resorb.prognosis._forecast import FORECAST_HORIZONS_MONTHS, forecast_volumes
from resorb.prognosis._kinetics import (
    KineticPrior,
    calibration_table,
    default_kinetic_prior,
    kinetic_volume_mm3,
)
from resorb.prognosis._management import ManagementPlan, ManagementStep, management_pathway
from resorb.prognosis._predictor import CaseEstimate, CasePredictor
from resorb.prognosis._probability import resorption_probability
from resorb.prognosis._triage import Triage, TriageReason, triage_case
from resorb.prognosis._types import (
    BaselinePrior,
    Factor,
    ObservedChange,
    OmittedFinding,
    ResorptionEstimate,
    VolumeForecast,
)

__all__ = [
    "FORECAST_HORIZONS_MONTHS",
    "BaselinePrior",
    "CaseEstimate",
    "CasePredictor",
    "Factor",
    "KineticPrior",
    "ManagementPlan",
    "ManagementStep",
    "ObservedChange",
    "OmittedFinding",
    "ResorptionEstimate",
    "Triage",
    "TriageReason",
    "VolumeForecast",
    "calibration_table",
    "default_kinetic_prior",
    "forecast_volumes",
    "kinetic_volume_mm3",
    "management_pathway",
    "resorption_probability",
    "triage_case",
]

_publish(__name__, globals())
