"""Therapy catalogue: conservative treatments with their evidence on symptoms and,
separately, on resorption; guideline stances; and the mechanism targets used by
:mod:`resorb.mechanism`.

Examples
--------
>>> from resorb.therapy import get_therapy
>>> get_therapy("NSAIDs").id
'nsaid'
"""

from resorb._public import publish as _publish
from resorb.therapy._catalogue import (
    DIRECTIONS,
    MECHANISM_TARGETS,
    GuidelineStance,
    MechanismTarget,
    Therapy,
    TherapyFinding,
    get_therapy,
    load_catalogue_text,
    therapy_catalogue,
)

__all__ = [
    "DIRECTIONS",
    "MECHANISM_TARGETS",
    "GuidelineStance",
    "MechanismTarget",
    "Therapy",
    "TherapyFinding",
    "get_therapy",
    "load_catalogue_text",
    "therapy_catalogue",
]

_publish(__name__, globals())
