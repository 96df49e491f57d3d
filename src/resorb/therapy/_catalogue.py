"""The therapy catalogue: conservative treatments with their evidence, kept as data.

``resorb/therapy/data/catalogue.yaml`` is validated at load time against the
evidence base (every source and guideline statement must exist there) and
converted into frozen :class:`Therapy` records. Evidence on symptoms and on
resorption are separate lists, and each finding is the source's own finding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from resorb.errors import EvidenceError, InvalidInputError
from resorb.evidence import load_evidence

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

#: Direction of a finding, in the source's terms.
DIRECTIONS = (
    "benefit",
    "no_difference",
    "inferior",
    "harm",
    "not_measured",
    "uncontrolled",
    "preclinical",
    "unknown",
)

#: Terms of the mechanistic model a therapy can act on (mechanisms.md section 4.4),
#: with the actions allowed on each.
MECHANISM_TARGETS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "tnf": ("inhibit", "neutralise"),
        "chemokine": ("inhibit", "promote"),
        "vegf": ("inhibit", "promote"),
        "monocyte_influx": ("inhibit", "promote"),
        "m1_to_m2_polarisation": ("inhibit", "promote"),
        "m2_macrophages": ("add", "deplete"),
        "mmp": ("inhibit", "add"),
    }
)

_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FindingIn(_Strict):
    finding: str
    direction: Literal[
        "benefit",
        "no_difference",
        "inferior",
        "harm",
        "not_measured",
        "uncontrolled",
        "preclinical",
        "unknown",
    ]
    certainty: str
    sources: list[str]

    @model_validator(mode="after")
    def _sourced(self) -> FindingIn:
        if not self.sources and self.direction != "not_measured":
            raise ValueError(
                "a finding needs at least one source (only 'not_measured' may "
                "rest on the absence of any study)"
            )
        return self


class StanceIn(_Strict):
    body: str
    stance: str
    statement: str


class TargetIn(_Strict):
    target: str
    action: str
    note: str = ""

    @model_validator(mode="after")
    def _known(self) -> TargetIn:
        actions = MECHANISM_TARGETS.get(self.target)
        if actions is None:
            raise ValueError(
                f"unknown mechanism target {self.target!r} (allowed: "
                f"{', '.join(MECHANISM_TARGETS)})"
            )
        if self.action not in actions:
            raise ValueError(
                f"action {self.action!r} not allowed on {self.target!r} "
                f"(allowed: {', '.join(actions)})"
            )
        return self


class TherapyIn(_Strict):
    id: str
    name: str
    aliases: list[str] = []
    category: Literal["drug", "injection", "physical", "complementary", "experimental"]
    status: Literal["established", "experimental", "preclinical"]
    description: str
    symptoms: list[FindingIn]
    resorption: list[FindingIn]
    guideline: list[StanceIn] = []
    mechanism_class: str | None = None
    mechanism_targets: list[TargetIn] = []

    @model_validator(mode="after")
    def _ids(self) -> TherapyIn:
        for name in (self.id, *self.aliases):
            if not _ID.match(name):
                raise ValueError(
                    f"{name!r}: ids and aliases are lower-case letters, digits and underscores"
                )
        if not self.symptoms or not self.resorption:
            raise ValueError(
                "give at least one finding on symptoms and one on resorption "
                "(use direction not_measured when there is none)"
            )
        return self


class CatalogueIn(_Strict):
    therapies: list[TherapyIn]


@dataclass(frozen=True, slots=True)
class TherapyFinding:
    """One finding of one source (or group of sources) about a therapy."""

    finding: str
    direction: str
    certainty: str
    sources: tuple[str, ...]
    citations: tuple[Mapping[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "finding": self.finding,
            "direction": self.direction,
            "certainty": self.certainty,
            "sources": list(self.sources),
            "citations": [dict(c) for c in self.citations],
        }


@dataclass(frozen=True, slots=True)
class GuidelineStance:
    """A guideline's position on a therapy, with the statement it rests on."""

    body: str
    stance: str
    statement_id: str
    text: str
    confidence: str
    citations: tuple[Mapping[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "body": self.body,
            "stance": self.stance,
            "statement_id": self.statement_id,
            "text": self.text,
            "confidence": self.confidence,
            "citations": [dict(c) for c in self.citations],
        }


@dataclass(frozen=True, slots=True)
class MechanismTarget:
    """A term of the mechanistic model and what the therapy does to it."""

    target: str
    action: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "action": self.action, "note": self.note}


@dataclass(frozen=True, slots=True)
class Therapy:
    """A conservative therapy with its evidence on symptoms and, separately, on resorption.

    Attributes
    ----------
    id : str
        Catalogue id (``"epidural_steroid"``); what case files' ``therapies[].name``
        and ``resorb simulate --therapy`` use.
    status : str
        ``established``, ``experimental`` or ``preclinical``.
    symptoms, resorption : tuple of TherapyFinding
        Findings on pain/function and on herniation size, never mixed.
    guideline : tuple of GuidelineStance
    mechanism_class : str or None
        Pharmacodynamic class in :mod:`resorb.mechanism`; None when the therapy
        has no modelled biological target.
    mechanism_targets : tuple of MechanismTarget
    """

    id: str
    name: str
    category: str
    status: str
    description: str
    aliases: tuple[str, ...]
    symptoms: tuple[TherapyFinding, ...]
    resorption: tuple[TherapyFinding, ...]
    guideline: tuple[GuidelineStance, ...]
    mechanism_class: str | None
    mechanism_targets: tuple[MechanismTarget, ...]

    @property
    def resorption_evidence_summary(self) -> str:
        """Directions of the resorption findings, e.g. ``"no_difference"``."""
        return ", ".join(sorted({f.direction for f in self.resorption}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "status": self.status,
            "description": self.description,
            "aliases": list(self.aliases),
            "symptoms": [f.to_dict() for f in self.symptoms],
            "resorption": [f.to_dict() for f in self.resorption],
            "guideline": [g.to_dict() for g in self.guideline],
            "mechanism_class": self.mechanism_class,
            "mechanism_targets": [t.to_dict() for t in self.mechanism_targets],
        }


def _build(parsed: CatalogueIn, where: str) -> dict[str, Therapy]:
    base = load_evidence()
    out: dict[str, Therapy] = {}
    names: dict[str, str] = {}

    def findings(t: TherapyIn, kind: str, items: list[FindingIn]) -> tuple[TherapyFinding, ...]:
        res = []
        for i, f in enumerate(items):
            cites = []
            for sid in f.sources:
                if sid not in base.sources:
                    raise EvidenceError(
                        f"{where}: therapy {t.id!r} {kind}[{i}] cites unknown source {sid!r}"
                    )
                cites.append(MappingProxyType(base.sources[sid].citation))
            res.append(
                TherapyFinding(f.finding, f.direction, f.certainty, tuple(f.sources), tuple(cites))
            )
        return tuple(res)

    for t in parsed.therapies:
        for name in (t.id, *t.aliases):
            if name in names:
                raise EvidenceError(
                    f"{where}: therapy {t.id!r}: name {name!r} is already used by {names[name]!r}"
                )
            names[name] = t.id
        stances = []
        for g in t.guideline:
            st = base.statements.get(g.statement)
            if st is None:
                raise EvidenceError(
                    f"{where}: therapy {t.id!r} cites unknown guideline statement {g.statement!r}"
                )
            stances.append(
                GuidelineStance(g.body, g.stance, st.id, st.text, st.confidence.value, st.citations)
            )
        out[t.id] = Therapy(
            id=t.id,
            name=t.name,
            category=t.category,
            status=t.status,
            description=t.description.strip(),
            aliases=tuple(t.aliases),
            symptoms=findings(t, "symptoms", t.symptoms),
            resorption=findings(t, "resorption", t.resorption),
            guideline=tuple(stances),
            mechanism_class=t.mechanism_class,
            mechanism_targets=tuple(
                MechanismTarget(m.target, m.action, m.note) for m in t.mechanism_targets
            ),
        )
    return out


def load_catalogue_text(text: str, *, where: str = "catalogue") -> Mapping[str, Therapy]:
    """Validate a catalogue given as YAML text (not cached; for tests and site catalogues).

    Raises
    ------
    EvidenceError
        Naming the therapy and field that failed.
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise EvidenceError(f"{where}: not valid YAML ({exc})") from None
    try:
        parsed = CatalogueIn.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise EvidenceError(f"{where}: {loc}: {err['msg'].removeprefix('Value error, ')}") from None
    return MappingProxyType(_build(parsed, where))


@cache
def therapy_catalogue() -> Mapping[str, Therapy]:
    """The shipped catalogue, keyed by therapy id (read-only, cached).

    Examples
    --------
    >>> cat = therapy_catalogue()
    >>> cat["anti_tnf"].resorption[0].direction
    'no_difference'
    """
    text = (resources.files("resorb.therapy") / "data" / "catalogue.yaml").read_text(
        encoding="utf-8"
    )
    return load_catalogue_text(text, where="catalogue.yaml")


def _normalise(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def get_therapy(name: str) -> Therapy:
    """A therapy by id or alias (``"NSAIDs"``, ``"epidural-steroid"`` ...).

    Raises
    ------
    InvalidInputError
        Unknown name; the message lists the catalogue ids.
    """
    cat = therapy_catalogue()
    key = _normalise(str(name))
    if key in cat:
        return cat[key]
    for therapy in cat.values():
        if key in therapy.aliases:
            return therapy
    raise InvalidInputError(
        "therapy", f"{name!r} is not in the therapy catalogue", allowed=", ".join(cat)
    )
