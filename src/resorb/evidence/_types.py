"""Frozen records of the evidence base: sources, values and statements.

The YAML files under ``resorb/evidence/data`` are validated with pydantic at
load time (:mod:`resorb.evidence._schema`) and converted into the frozen
dataclasses below, which are what the rest of resorb sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "Confidence",
    "EvidenceBase",
    "EvidenceSource",
    "EvidenceStatement",
    "EvidenceValue",
]


class Confidence(StrEnum):
    """How sure the evidence base is of a number (tags of the reference notes).

    ``exact``: read in a cited source. ``approx``: paraphrased, derived by
    arithmetic from published figures, or recalled and consistent with a source.
    ``unverified``: not found in any source that was read; never a default.
    """

    EXACT = "exact"
    APPROX = "approx"
    UNVERIFIED = "unverified"


def _citation(
    doi: str | None,
    pmid: str | None,
    url: str | None = None,
    registration: str | None = None,
    registration_url: str | None = None,
) -> dict[str, str]:
    out: dict[str, str] = {}
    if doi:
        out["doi"] = doi
    if pmid:
        out["pmid"] = pmid
    if url and not out:
        out["url"] = url
        if registration:
            out["registration"] = registration
        if registration_url:
            out["registration_url"] = registration_url
    return out


@dataclass(frozen=True, slots=True)
class EvidenceSource:
    """One publication, guideline or registry record.

    Attributes
    ----------
    id : str
        Stable identifier used by values and statements (``"zou2023"``).
    doi, pmid : str or None
        Identifiers; a source with neither (NICE guidance, an abstract whose
        journal is unidentified) has the ``url`` where it was read instead, and
        a value cannot rest on such a source alone.
    registration, registration_url : str or None
        Trial registration number (``"ChiCTR2400094586"``) and the registry
        address, for a study known by its registration rather than a DOI/PMID.
    design : str
        ``meta-analysis``, ``rct``, ``prospective cohort``, ``guideline`` ...
    n : int or None
        Number of patients (or herniations, see ``notes``) analysed.
    """

    id: str
    authors: str
    year: int
    title: str
    journal: str
    design: str
    doi: str | None = None
    pmid: str | None = None
    url: str | None = None
    registration: str | None = None
    registration_url: str | None = None
    n: int | None = None
    notes: str = ""

    @property
    def citation(self) -> dict[str, str]:
        """``{"doi": ..., "pmid": ...}`` with the identifiers that exist.

        A source with neither gives its ``url`` and, when it has one, its trial
        ``registration`` and ``registration_url``.
        """
        return _citation(self.doi, self.pmid, self.url, self.registration, self.registration_url)

    @property
    def short(self) -> str:
        """Short reference, ``"Zou 2023, Clin Spine Surg"``."""
        first = self.authors.split(",")[0].split(" ")[0]
        return f"{first} {self.year}, {self.journal}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "source",
            "id": self.id,
            "authors": self.authors,
            "year": self.year,
            "title": self.title,
            "journal": self.journal,
            "design": self.design,
            "doi": self.doi,
            "pmid": self.pmid,
            "url": self.url,
            "registration": self.registration,
            "registration_url": self.registration_url,
            "n": self.n,
            "notes": self.notes,
        }


@dataclass(frozen=True, slots=True)
class EvidenceValue:
    """One number of the evidence base with its provenance.

    Attributes
    ----------
    value : float, tuple of float, or mapping of str to float
        The number (a mapping for a set of named thresholds).
    lower, upper : float or None
        Interval around ``value``, of the kind named by ``interval_kind``.
    interval_assumption : bool
        True when the interval is our own assumption (e.g. a pooled rate
        published without its confidence interval); ``derivation`` says how.
    events, total : int or None
        Published counts behind a proportion.
    confidence : Confidence
    assumption : bool
        True for a number that is our own modelling assumption.
    parameters : mapping of str to float
        Named numbers from the same sources that define what ``value`` refers
        to, e.g. the cut-off of a finding (``threshold_months``) or the time
        point of a fraction (``at_months``).
    citations : tuple of dict
        ``{"doi": ..., "pmid": ...}`` of every source, resolved at load time.
    """

    id: str
    quantity: str
    value: float | tuple[float, ...] | Mapping[str, float]
    unit: str
    sources: tuple[str, ...]
    confidence: Confidence
    derivation: str = ""
    lower: float | None = None
    upper: float | None = None
    interval_kind: str | None = None
    interval_assumption: bool = False
    events: int | None = None
    total: int | None = None
    assumption: bool = False
    notes: str = ""
    parameters: Mapping[str, float] = field(default_factory=dict)
    citations: tuple[Mapping[str, str], ...] = field(default=(), compare=False)

    @property
    def interval(self) -> tuple[float, float] | None:
        if self.lower is None or self.upper is None:
            return None
        return (self.lower, self.upper)

    @property
    def scalar(self) -> float:
        """``value`` as one number (:class:`~resorb.errors.EvidenceError` if it is a set)."""
        if isinstance(self.value, int | float) and not isinstance(self.value, bool):
            return float(self.value)
        from resorb.errors import EvidenceError

        raise EvidenceError(f"evidence value {self.id!r} is not a single number")

    def to_dict(self) -> dict[str, Any]:
        value = dict(self.value) if isinstance(self.value, Mapping) else self.value
        return {
            "kind": "value",
            "id": self.id,
            "quantity": self.quantity,
            "value": value,
            "unit": self.unit,
            "lower": self.lower,
            "upper": self.upper,
            "interval_kind": self.interval_kind,
            "interval_assumption": self.interval_assumption,
            "events": self.events,
            "total": self.total,
            "sources": list(self.sources),
            "citations": [dict(c) for c in self.citations],
            "confidence": self.confidence.value,
            "derivation": self.derivation,
            "assumption": self.assumption,
            "parameters": dict(self.parameters),
            "notes": self.notes,
        }


@dataclass(frozen=True, slots=True)
class EvidenceStatement:
    """A recommendation or qualitative finding (guideline wording, direction of an effect).

    ``text`` paraphrases the source's own finding; it never claims more.
    """

    id: str
    text: str
    sources: tuple[str, ...]
    confidence: Confidence
    topic: str = ""
    notes: str = ""
    citations: tuple[Mapping[str, str], ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "statement",
            "id": self.id,
            "text": self.text,
            "topic": self.topic,
            "sources": list(self.sources),
            "citations": [dict(c) for c in self.citations],
            "confidence": self.confidence.value,
            "notes": self.notes,
        }


@dataclass(frozen=True, slots=True)
class EvidenceBase:
    """The whole evidence base, keyed by id (each id unique across the three kinds)."""

    sources: Mapping[str, EvidenceSource]
    values: Mapping[str, EvidenceValue]
    statements: Mapping[str, EvidenceStatement]

    def __len__(self) -> int:
        return len(self.sources) + len(self.values) + len(self.statements)

    def get(self, record_id: str) -> EvidenceSource | EvidenceValue | EvidenceStatement:
        """Any record by id; :class:`~resorb.errors.EvidenceError` if unknown."""
        for table in (self.values, self.sources, self.statements):
            if record_id in table:
                return table[record_id]
        from resorb.errors import EvidenceError

        raise EvidenceError(
            f"evidence id {record_id!r} is not in the evidence base (see 'resorb evidence list')"
        )
