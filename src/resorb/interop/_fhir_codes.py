"""resorb's own FHIR code system, narratives and the interpretation of a resorption grade.

Concepts without a code found in a checked standard source (herniated-fragment
volume as such, resorption percent, the ODI total as resorb computes it, the
estimated probability of resorption and its interval, the follow-up report)
carry a code of :data:`RESORB_CODE_SYSTEM`, which :func:`code_system` publishes
as a FHIR ``CodeSystem`` resource (every code with its display and definition),
so a server or a reader can resolve them from the same Bundle.

The resorption grade is not coded locally: ``Observation.interpretation`` uses
the HL7 ObservationInterpretation codes *B* (better: the herniation shrank by a
graded amount) and *W* (worse: it grew), with the grade as text; an unchanged
herniation has the text only.
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["RESORB_CODE_SYSTEM", "code_system", "grade_interpretation", "local", "narrative"]

#: Project-local code system for concepts without a verified standard code.
RESORB_CODE_SYSTEM = "urn:resorb:fhir:measure"
_V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

#: code -> (display, definition) of every code of :data:`RESORB_CODE_SYSTEM`.
CONCEPTS: dict[str, tuple[str, str]] = {
    "herniation-volume": (
        "Herniated disc material volume",
        "Volume of the herniated lumbar disc material beyond the disc space on one MRI, in "
        "mm3 (segmented voxel count, ellipsoid of three diameters, or Cavalieri sum).",
    ),
    "resorption-percent": (
        "Herniation resorption (V0 - V1) / V0",
        "Signed change of the herniation volume against the baseline MRI, (V0 - V1) / V0 x "
        "100 %; negative when the herniation grew.",
    ),
    "odi-percent": (
        "Oswestry Disability Index",
        "Oswestry Disability Index total as a percentage of the maximum of the sections "
        "answered (0-100 %).",
    ),
    "resorption-probability": (
        "Estimated probability of herniation resorption",
        "resorb's decision-support estimate (0-1) that the herniation resorbs by the stated "
        "definition and horizon; not a medical device.",
    ),
    "interval-lower": (
        "Interval lower bound",
        "Lower bound of the uncertainty interval of the estimate.",
    ),
    "interval-upper": (
        "Interval upper bound",
        "Upper bound of the uncertainty interval of the estimate.",
    ),
    "ldh-resorption-followup": (
        "Lumbar disc herniation resorption follow-up",
        "Report of the serial MRI volumes, resorption, disability scores and estimated "
        "probability of resorption of one lumbar disc herniation.",
    ),
}

_GRADE_INTERPRETATION = {
    "complete": ("B", "Better"),
    "significant": ("B", "Better"),
    "partial": ("B", "Better"),
    "enlarged": ("W", "Worse"),
}


def local(code: str) -> dict[str, str]:
    """A Coding of :data:`RESORB_CODE_SYSTEM` (the code must be defined in it)."""
    display, _ = CONCEPTS[code]
    return {"system": RESORB_CODE_SYSTEM, "code": code, "display": display}


def narrative(text: str) -> dict[str, str]:
    """A generated narrative (``Resource.text``) holding ``text`` as one XHTML paragraph."""
    return {
        "status": "generated",
        "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{html.escape(text)}</p></div>',
    }


def grade_interpretation(grade: str) -> list[dict[str, Any]]:
    """``Observation.interpretation`` of a resorption grade (HL7 codes, or text only)."""
    text = grade
    coded = _GRADE_INTERPRETATION.get(grade)
    if coded is None:
        return [{"text": text}]
    code, display = coded
    return [
        {"coding": [{"system": _V3_INTERPRETATION, "code": code, "display": display}], "text": text}
    ]


def code_system(version: str | None = None) -> dict[str, Any]:
    """The FHIR ``CodeSystem`` resource (as a dict) of every code of RESORB_CODE_SYSTEM."""
    return {
        "resourceType": "CodeSystem",
        "text": narrative(
            "resorb measures: " + "; ".join(f"{c} = {d}" for c, (d, _) in CONCEPTS.items())
        ),
        "url": RESORB_CODE_SYSTEM,
        "version": version,
        "name": "ResorbMeasures",
        "title": "resorb measures",
        "status": "active",
        "experimental": False,
        "publisher": "resorb",
        "description": "Concepts resorb reports for which no code was found in a checked "
        "standard terminology (SNOMED CT, LOINC, DICOM).",
        "caseSensitive": True,
        "content": "complete",
        "count": len(CONCEPTS),
        "concept": [
            {"code": c, "display": d, "definition": text} for c, (d, text) in CONCEPTS.items()
        ],
    }
