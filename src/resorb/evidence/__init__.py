"""The evidence base: studies, numbers and recommendations, each traceable to a DOI or PMID.

Data live in YAML files shipped with the package (``resorb/evidence/data``)
and are validated once at load time. Every number carries a confidence tag
(``exact`` | ``approx`` | ``unverified``); unverified numbers are refused unless
asked for explicitly. Our own modelling assumptions are labelled ``assumption``.

Examples
--------
>>> from resorb.evidence import evidence_value
>>> thresholds = evidence_value("resorption_grade_thresholds").value
>>> thresholds["significant_percent"]
50.0
"""

from resorb._public import publish as _publish
from resorb.evidence._access import (
    evidence_record,
    evidence_source,
    evidence_statement,
    evidence_value,
)
from resorb.evidence._shipped import load_evidence, load_evidence_files
from resorb.evidence._types import (
    Confidence,
    EvidenceBase,
    EvidenceSource,
    EvidenceStatement,
    EvidenceValue,
)

__all__ = [
    "Confidence",
    "EvidenceBase",
    "EvidenceSource",
    "EvidenceStatement",
    "EvidenceValue",
    "evidence_record",
    "evidence_source",
    "evidence_statement",
    "evidence_value",
    "load_evidence",
    "load_evidence_files",
]

_publish(__name__, globals())
