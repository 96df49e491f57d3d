"""pydantic schema of the evidence YAML files and the loader.

Each file under ``resorb/evidence/data`` may hold three lists, ``sources``,
``values`` and ``statements``; ids are unique across all files and kinds.
Validation refuses, naming the record and field:

- a value or statement that cites a source id that does not exist;
- a source with neither DOI, PMID nor URL; a value none of whose sources
  has a DOI or PMID, unless it is a labelled ``assumption`` (statements may
  rest on a guideline's official URL);
- a confidence other than ``exact``, ``approx`` or ``unverified``;
- an interval that does not hold its value, or counts with events > total.

A value may carry ``parameters``: named numbers, from the same sources, that
define what the value refers to (the cut-off of a finding, the time point of a
fraction).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from resorb.errors import EvidenceError
from resorb.evidence._types import (
    Confidence,
    EvidenceBase,
    EvidenceSource,
    EvidenceStatement,
    EvidenceValue,
)

__all__ = ["build_evidence", "read_evidence_files"]

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(
            "ids are lower-case letters, digits and underscores, starting with a letter"
        )
    return value


class SourceIn(_Strict):
    id: str
    authors: str
    year: int
    title: str
    journal: str
    design: str
    doi: str | None = None
    pmid: str | int | None = None
    url: str | None = None
    registration: str | None = None
    registration_url: str | None = None
    n: int | None = None
    notes: str = ""

    _id = field_validator("id")(_check_id)

    @field_validator("doi")
    @classmethod
    def _doi(cls, value: str | None) -> str | None:
        if value is not None and not _DOI.match(value):
            raise ValueError(f"{value!r} is not a DOI (10.xxxx/...)")
        return value

    @field_validator("pmid")
    @classmethod
    def _pmid(cls, value: str | int | None) -> str | None:
        if value is None:
            return None
        text = str(value)
        if not text.isdigit():
            raise ValueError(f"{value!r} is not a PubMed id (digits)")
        return text

    @model_validator(mode="after")
    def _identified(self) -> SourceIn:
        if not (self.doi or self.pmid or self.url):
            raise ValueError(
                "a source needs a doi, a pmid, or (when it has neither, e.g. a "
                "guideline) the url where it was read"
            )
        return self


Number = float | int


class ValueIn(_Strict):
    id: str
    quantity: str
    value: Number | list[Number] | dict[str, Number]
    unit: str
    sources: list[str]
    confidence: Literal["exact", "approx", "unverified"]
    derivation: str = ""
    lower: Number | None = None
    upper: Number | None = None
    interval_kind: str | None = None
    interval_assumption: bool = False
    events: int | None = None
    total: int | None = None
    assumption: bool = False
    parameters: dict[str, Number] = {}
    notes: str = ""

    _id = field_validator("id")(_check_id)

    @model_validator(mode="after")
    def _consistent(self) -> ValueIn:
        if not self.sources and not self.assumption:
            raise ValueError("a value needs at least one source (or assumption: true)")
        if (self.lower is None) != (self.upper is None):
            raise ValueError("give both lower and upper, or neither")
        if self.lower is not None and self.upper is not None:
            if self.interval_kind is None:
                raise ValueError("an interval needs its interval_kind (e.g. '95% CI')")
            if isinstance(self.value, int | float) and not (self.lower <= self.value <= self.upper):
                raise ValueError(
                    f"interval [{self.lower}, {self.upper}] does not hold the value {self.value}"
                )
        if (self.events is None) != (self.total is None):
            raise ValueError("give both events and total, or neither")
        if (
            self.events is not None
            and self.total is not None
            and not 0 <= self.events <= self.total
        ):
            raise ValueError(f"events {self.events} must lie between 0 and total {self.total}")
        if self.assumption and not self.derivation:
            raise ValueError("an assumption needs a derivation saying what it rests on")
        return self


class StatementIn(_Strict):
    id: str
    text: str
    sources: list[str]
    confidence: Literal["exact", "approx", "unverified"]
    topic: str = ""
    notes: str = ""

    _id = field_validator("id")(_check_id)

    @model_validator(mode="after")
    def _sourced(self) -> StatementIn:
        if not self.sources:
            raise ValueError("a statement needs at least one source")
        return self


class FileIn(_Strict):
    sources: list[SourceIn] = []
    values: list[ValueIn] = []
    statements: list[StatementIn] = []


def _format_validation(exc: ValidationError, where: str, raw: dict[str, Any]) -> str:
    err = exc.errors()[0]
    loc = list(err["loc"])
    label = where
    if len(loc) >= 2 and isinstance(loc[1], int):
        try:
            record = raw[str(loc[0])][loc[1]]
            label += f": {loc[0]} {record.get('id', loc[1])!r}"
        except (KeyError, IndexError, TypeError, AttributeError):
            label += f": {loc[0]}[{loc[1]}]"
        loc = loc[2:]
    field = ".".join(str(p) for p in loc)
    msg = err["msg"].removeprefix("Value error, ")
    return f"{label}{' field ' + field if field else ''}: {msg}"


_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read(path: Path | str, text: str) -> FileIn:
    try:
        # libyaml's safe loader when PyYAML has it (same safe subset, ~10x faster:
        # the evidence base is read by every command that checks a bound).
        raw = yaml.load(text, Loader=_SAFE_LOADER) or {}
    except yaml.YAMLError as exc:
        raise EvidenceError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise EvidenceError(f"{path}: expected a mapping with sources/values/statements")
    try:
        return FileIn.model_validate(raw)
    except ValidationError as exc:
        raise EvidenceError(_format_validation(exc, str(path), raw)) from None


def _build(files: Iterable[tuple[str, FileIn]]) -> EvidenceBase:
    sources: dict[str, EvidenceSource] = {}
    values_in: list[tuple[str, ValueIn]] = []
    statements_in: list[tuple[str, StatementIn]] = []
    seen: dict[str, str] = {}

    def claim(record_id: str, where: str) -> None:
        if record_id in seen:
            raise EvidenceError(f"{where}: id {record_id!r} is already used in {seen[record_id]}")
        seen[record_id] = where

    for where, parsed in files:
        for s in parsed.sources:
            claim(s.id, where)
            sources[s.id] = EvidenceSource(
                id=s.id,
                authors=s.authors,
                year=s.year,
                title=s.title,
                journal=s.journal,
                design=s.design,
                doi=s.doi,
                pmid=None if s.pmid is None else str(s.pmid),
                url=s.url,
                registration=s.registration,
                registration_url=s.registration_url,
                n=s.n,
                notes=s.notes,
            )
        for v in parsed.values:
            claim(v.id, where)
            values_in.append((where, v))
        for st in parsed.statements:
            claim(st.id, where)
            statements_in.append((where, st))

    def resolve(where: str, kind: str, record_id: str, ids: list[str]) -> list[EvidenceSource]:
        out = []
        for sid in ids:
            if sid not in sources:
                raise EvidenceError(f"{where}: {kind} {record_id!r} cites unknown source {sid!r}")
            out.append(sources[sid])
        return out

    values: dict[str, EvidenceValue] = {}
    for where, v in values_in:
        cited = resolve(where, "value", v.id, v.sources)
        citations = tuple(MappingProxyType(s.citation) for s in cited if s.doi or s.pmid)
        if not citations and not v.assumption:
            raise EvidenceError(
                f"{where}: value {v.id!r} has no DOI or PMID among its "
                "sources (label it assumption: true if it is ours)"
            )
        value: Any = v.value
        if isinstance(value, list):
            value = tuple(float(x) for x in value)
        elif isinstance(value, dict):
            value = MappingProxyType({k: float(x) for k, x in value.items()})
        else:
            value = float(value)
        values[v.id] = EvidenceValue(
            id=v.id,
            quantity=v.quantity,
            value=value,
            unit=v.unit,
            sources=tuple(v.sources),
            confidence=Confidence(v.confidence),
            derivation=v.derivation,
            lower=None if v.lower is None else float(v.lower),
            upper=None if v.upper is None else float(v.upper),
            interval_kind=v.interval_kind,
            interval_assumption=v.interval_assumption,
            events=v.events,
            total=v.total,
            assumption=v.assumption,
            notes=v.notes,
            parameters=MappingProxyType({k: float(x) for k, x in v.parameters.items()}),
            citations=citations,
        )

    statements: dict[str, EvidenceStatement] = {}
    for where, st in statements_in:
        cited = resolve(where, "statement", st.id, st.sources)
        citations = tuple(MappingProxyType(s.citation) for s in cited if s.citation)
        statements[st.id] = EvidenceStatement(
            id=st.id,
            text=st.text,
            sources=tuple(st.sources),
            confidence=Confidence(st.confidence),
            topic=st.topic,
            notes=st.notes,
            citations=citations,
        )
    return EvidenceBase(
        sources=MappingProxyType(sources),
        values=MappingProxyType(values),
        statements=MappingProxyType(statements),
    )


def build_evidence(files: Iterable[tuple[str, str]]) -> EvidenceBase:
    """Validate YAML texts ``(file name, text)`` into one evidence base.

    :func:`resorb.evidence.load_evidence` calls this for the shipped files
    (and caches the result).

    Raises
    ------
    EvidenceError
        Naming the file, the record and the field that failed.
    """
    return _build([(name, _read(name, text)) for name, text in files])


def read_evidence_files(paths: Iterable[str | os.PathLike[str]]) -> EvidenceBase:
    """Validate and load evidence YAML files (not cached; used for user data and tests).

    Raises
    ------
    EvidenceError
        Naming the file, the record and the field that failed.
    """
    files = []
    for path in paths:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise EvidenceError(f"{p}: cannot be read ({exc.strerror})") from None
        files.append((p.name, _read(p.name, text)))
    return _build(files)
