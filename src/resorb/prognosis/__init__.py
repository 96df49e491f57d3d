"""Prognosis: resorption probability for a case, forecast from serial volumes,
red-flag triage and the management pathway.

Each part lives in a private module re-exported here.
"""

from resorb.prognosis._forecast import (
    KineticPrior,
    VolumeForecast,
    calibrate_kinetic_prior,
    default_kinetic_prior,
    forecast_volumes,
    kinetic_volume_mm3,
)
from resorb.prognosis._management import ManagementPlan, ManagementStep, management_pathway
from resorb.prognosis._patient_information import PatientInformation, patient_information
from resorb.prognosis._probability import (
    BaselinePrior,
    Factor,
    OmittedFinding,
    ResorptionEstimate,
    resorption_probability,
)
from resorb.prognosis._triage import Triage, TriageReason, TriageWarning, triage_case

__all__ = [
    "BaselinePrior",
    "Factor",
    "KineticPrior",
    "ManagementPlan",
    "ManagementStep",
    "OmittedFinding",
    "PatientInformation",
    "ResorptionEstimate",
    "Triage",
    "TriageReason",
    "TriageWarning",
    "VolumeForecast",
    "calibrate_kinetic_prior",
    "default_kinetic_prior",
    "forecast_volumes",
    "kinetic_volume_mm3",
    "management_pathway",
    "patient_information",
    "resorption_probability",
    "triage_case",
]
