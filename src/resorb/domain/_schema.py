"""pydantic schema of the case file: the boundary where untrusted input arrives.

The schema checks types, unknown keys and calendar facts; the frozen domain
objects check clinical invariants. Both raise errors that name the field.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from resorb.domain.bounds import check_clinical_date, check_diameters_mm
from resorb.domain.case import (
    Case,
    HerniationFindings,
    MRIStudy,
    Patient,
    Symptoms,
    TherapyCourse,
)
from resorb.domain.enums import E, MSUSize, MSUZone, RedFlag, Sex, parse_enum
from resorb.domain.instruments import JoaItems
from resorb.domain.scales import FINDING_ENUMS, FINDING_SCALES
from resorb.errors import CaseFileError, InvalidInputError

__all__ = ["case_from_dict", "load_yaml_text", "read_case_file"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Scalar = str | int | float


class PatientIn(_Strict):
    age_years: int | None = None
    sex: str | None = None


class SymptomsIn(_Strict):
    onset_date: dt.date | None = None
    leg_pain_nrs: float | None = None
    back_pain_nrs: float | None = None
    vas_mm: float | None = None
    odi_answers: list[int | None] | None = None
    joa_items: dict[str, int] | None = None
    slr_degrees: float | None = None
    motor_mrc: int | None = None
    red_flags: list[str] | None = None


class HerniationIn(_Strict):
    level: str
    morphology: str
    containment: str | None = None
    pll: str | None = None
    zone: str | None = None
    migration: str | None = None
    komori: Scalar | None = None
    msu: Scalar | None = None
    rim_enhancement: str | None = None
    iwabuchi: int | None = None
    t2_signal: str | None = None
    modic: int | None = None
    pfirrmann: Scalar | None = None
    schizas: str | None = None
    canal_compromise_percent: float | None = None

    @field_validator("level", "morphology", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) else v


class MRIIn(_Strict):
    date: dt.date
    volume_mm3: float | None = None
    mask: str | None = None
    label: int | None = None
    diameters_mm: list[float] | None = None


class TherapyIn(_Strict):
    name: str
    start: dt.date | None = None
    end: dt.date | None = None


class CaseIn(_Strict):
    patient: PatientIn = PatientIn()
    symptoms: SymptomsIn = SymptomsIn()
    herniation: HerniationIn
    mri: list[MRIIn] = []
    therapies: list[TherapyIn] = []


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "case"


def _pydantic_error(exc: ValidationError) -> CaseFileError:
    err = exc.errors()[0]
    field = _loc(tuple(p for p in err["loc"] if p not in ("function-after",)))
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = field.rsplit(".", 1)[0] if "." in field else "case"
        allowed = _allowed_keys(parent)
        return CaseFileError(field, "unknown key", allowed=allowed)
    if kind == "missing":
        return CaseFileError(field, "is required")
    return CaseFileError(field, err["msg"].lower())


def _allowed_keys(parent: str) -> str:
    models: dict[str, type[BaseModel]] = {
        "case": CaseIn,
        "patient": PatientIn,
        "symptoms": SymptomsIn,
        "herniation": HerniationIn,
        "therapies": TherapyIn,
        "mri": MRIIn,
    }
    key = parent.split("[")[0]
    model = models.get(key, CaseIn)
    return ", ".join(model.model_fields)


def _parse_msu(value: Scalar, field: str) -> tuple[MSUSize, MSUZone | None]:
    text = str(value).strip().upper()
    size_text, _, zone_text = text.partition("-")
    size = parse_enum(MSUSize, size_text, field=field)
    zone = parse_enum(MSUZone, zone_text, field=field) if zone_text else None
    return size, zone


def _opt(enum: type[E], value: object, field: str) -> E | None:
    return None if value is None else parse_enum(enum, value, field=field)


def _check_not_future(value: dt.date | None, field: str, today: dt.date) -> None:
    """A plausible date: not in the future, not before the earliest plausible year."""
    if value is not None:
        try:
            check_clinical_date(value, field=field, today=today)
        except InvalidInputError as exc:
            raise CaseFileError(exc.field, exc.message, allowed=exc.allowed) from None


def case_from_dict(
    data: object, *, base_dir: Path | None = None, today: dt.date | None = None
) -> Case:
    """Validate a parsed case file and build a frozen :class:`Case`.

    Raises
    ------
    CaseFileError
        On unknown keys, wrong types, impossible values or future dates; the
        message names the field (``herniation.level``) and what is allowed.
    """
    today = today or dt.date.today()
    if not isinstance(data, dict):
        raise CaseFileError(
            "case",
            "is not a mapping of keys to values",
            allowed="a YAML/JSON object with at least 'herniation'",
        )
    try:
        raw = CaseIn.model_validate(data)
    except ValidationError as exc:
        raise _pydantic_error(exc) from None
    try:
        return _build(raw, base_dir=base_dir, today=today)
    except CaseFileError:
        raise
    except InvalidInputError as exc:
        raise CaseFileError(exc.field, exc.message, allowed=exc.allowed) from None


def _build(raw: CaseIn, *, base_dir: Path | None, today: dt.date) -> Case:
    p, s, h = raw.patient, raw.symptoms, raw.herniation
    patient = Patient(age_years=p.age_years, sex=_opt(Sex, p.sex, "patient.sex"))
    _check_not_future(s.onset_date, "symptoms.onset_date", today)
    flags = frozenset(
        parse_enum(RedFlag, f, field=f"symptoms.red_flags[{i}]")
        for i, f in enumerate(s.red_flags or ())
    )
    joa = JoaItems.from_mapping(s.joa_items) if s.joa_items is not None else None
    symptoms = Symptoms(
        onset_date=s.onset_date,
        leg_pain_nrs=s.leg_pain_nrs,
        back_pain_nrs=s.back_pain_nrs,
        vas_mm=s.vas_mm,
        odi_answers=tuple(s.odi_answers) if s.odi_answers is not None else None,
        joa_items=joa,
        slr_degrees=s.slr_degrees,
        motor_mrc=s.motor_mrc,
        red_flags=flags,
        red_flags_recorded=s.red_flags is not None,
    )
    msu_size, msu_zone = (None, None) if h.msu is None else _parse_msu(h.msu, "herniation.msu")
    # Every finding on its scale from the one table (MSU size and zone come from "msu").
    found = {f.key: getattr(h, f.key) for f in FINDING_SCALES if f.key in type(h).model_fields}
    found["komori"] = _komori_code(found["komori"])
    found["pfirrmann"] = _roman(found["pfirrmann"])
    scaled: dict[str, Any] = {
        key: _opt(FINDING_ENUMS[key], value, f"herniation.{key}") for key, value in found.items()
    }
    herniation = HerniationFindings(
        **scaled,
        msu_size=msu_size,
        msu_zone=msu_zone,
        canal_compromise_percent=h.canal_compromise_percent,
    )
    studies = []
    for i, m in enumerate(raw.mri):
        _check_not_future(m.date, f"mri[{i}].date", today)
        mask = None
        if m.mask is not None:
            mask = Path(m.mask)
            if base_dir is not None and not mask.is_absolute():
                mask = base_dir / mask
        studies.append(
            MRIStudy(
                date=m.date,
                volume_mm3=m.volume_mm3,
                mask=mask,
                label=m.label,
                diameters_mm=(
                    None
                    if m.diameters_mm is None
                    else check_diameters_mm(m.diameters_mm, field=f"mri[{i}].diameters_mm")
                ),
                index=i,
            )
        )
    therapies = []
    for i, t in enumerate(raw.therapies):
        _check_not_future(t.start, f"therapies[{i}].start", today)
        therapies.append(
            TherapyCourse(name=t.name.strip().lower(), start=t.start, end=t.end, index=i)
        )
    return Case(
        herniation=herniation,
        patient=patient,
        symptoms=symptoms,
        mri=tuple(studies),
        therapies=tuple(therapies),
        base_dir=base_dir,
    )


_KOMORI_LETTERS = {"A": 1, "B": 2, "C": 3}
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}


def _komori_code(value: Scalar | None) -> Scalar | None:
    """Chinese papers write Komori types as A/B/C (C = most migrated)."""
    if isinstance(value, str) and value.strip().upper() in _KOMORI_LETTERS:
        return _KOMORI_LETTERS[value.strip().upper()]
    return value


def _roman(value: Scalar | None) -> Scalar | None:
    if isinstance(value, str) and value.strip().upper() in _ROMAN:
        return _ROMAN[value.strip().upper()]
    return value


#: Largest case file read (bytes). A software limit: a case file with ten MRIs
#: is about 2 KB; a larger file is not a case file and would only cost time.
MAX_CASE_FILE_BYTES = 256 * 1024
#: Deepest nesting of mappings and lists accepted (a case file needs 4).
MAX_CASE_FILE_DEPTH = 16


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with a nesting limit and without anchors/aliases.

    Aliases are refused because a few lines of them can stand for an
    exponentially large document; deep nesting because PyYAML's composer is
    recursive (a RecursionError instead of a message).
    """

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise CaseFileError(
                f"line {mark.line + 1}",
                "uses a YAML alias",
                allowed="plain values (anchors and aliases are not supported in case files)",
            )
        self._depth += 1
        try:
            if self._depth > MAX_CASE_FILE_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise CaseFileError(
                    f"line {mark.line + 1}",
                    "is nested too deeply",
                    allowed=f"at most {MAX_CASE_FILE_DEPTH} levels",
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _check_size(n_bytes: int, where: str) -> None:
    if n_bytes > MAX_CASE_FILE_BYTES:
        raise CaseFileError(
            where,
            f"is too large ({n_bytes:,} bytes)",
            allowed=f"a case file of at most {MAX_CASE_FILE_BYTES // 1024} KiB",
        )


def _depth_of(data: object) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_CASE_FILE_DEPTH:
                stack.extend(
                    (v, depth + 1) for v in (item.values() if isinstance(item, dict) else item)
                )
    return deepest


def load_yaml_text(text: str) -> object:
    """Parse YAML/JSON text, refusing it with a one-line message when malformed,
    larger than :data:`MAX_CASE_FILE_BYTES` or nested deeper than
    :data:`MAX_CASE_FILE_DEPTH`."""
    _check_size(len(text.encode("utf-8", "surrogatepass")), "case file")
    try:
        return yaml.load(text, Loader=_BoundedLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "case file"
        raise CaseFileError(where, "is not valid YAML/JSON") from None
    except (RecursionError, ValueError, OverflowError) as exc:
        if isinstance(exc, CaseFileError):
            raise
        raise CaseFileError("case file", "is not valid YAML/JSON") from None


def read_case_file(path: Path, *, today: dt.date | None = None) -> Case:
    """Read and validate a case file from disk (at most :data:`MAX_CASE_FILE_BYTES`)."""
    if not path.exists():
        raise CaseFileError(str(path), "file not found")
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise CaseFileError(str(path), "unknown case-file type", allowed=".yaml, .yml, .json")
    try:
        if not path.is_file():
            raise CaseFileError(str(path), "is not a file", allowed="a .yaml or .json file")
        _check_size(path.stat().st_size, str(path))
        with path.open("rb") as fh:
            raw = fh.read(MAX_CASE_FILE_BYTES + 1)
        _check_size(len(raw), str(path))
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError(str(path), f"cannot be read ({exc.__class__.__name__})") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CaseFileError(f"line {exc.lineno}", "is not valid JSON") from None
        except ValueError:  # e.g. an integer of more than 4300 digits
            raise CaseFileError(str(path), "is not valid JSON") from None
        except RecursionError:
            raise CaseFileError(
                str(path), "is nested too deeply", allowed=f"at most {MAX_CASE_FILE_DEPTH} levels"
            ) from None
        if _depth_of(data) > MAX_CASE_FILE_DEPTH:
            raise CaseFileError(
                str(path), "is nested too deeply", allowed=f"at most {MAX_CASE_FILE_DEPTH} levels"
            )
    else:
        data = load_yaml_text(text)
    return case_from_dict(data, base_dir=path.parent, today=today)
