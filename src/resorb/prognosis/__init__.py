"""Prognosis: resorption probability for a case, forecast from serial volumes,
red-flag triage and the management pathway.

Each part lives in a private module re-exported here.
"""

from resorb.prognosis._probability import (
    BaselinePrior,
    Factor,
    OmittedFinding,
    ResorptionEstimate,
    resorption_probability,
)

__all__ = [
    "BaselinePrior",
    "Factor",
    "OmittedFinding",
    "ResorptionEstimate",
    "resorption_probability",
]
