"""Input schemas of the registry (pydantic, at the boundary only).

Every write to the registry goes through one of these models: the web app can
hand a request body straight to the :class:`~resorb.registry.Registry`, the CSV
importer a row. Scales are parsed with :func:`resorb.domain.parse_enum` and the
domain objects' own invariants are checked (a sequestration cannot be
contained, a therapy cannot end before it starts), so the registry holds only
values that rebuild a valid :class:`resorb.domain.Case`.

Failures raise :class:`~resorb.errors.InvalidInputError` naming the field.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from resorb.domain import (
    FINDING_ENUMS,
    AxialZone,
    Containment,
    HerniationFindings,
    HerniationMorphology,
    IwabuchiType,
    KomoriType,
    Migration,
    ModicType,
    MSUSize,
    MSUZone,
    PfirrmannGrade,
    PLLIntegrity,
    RedFlag,
    RimEnhancement,
    SchizasGrade,
    Sex,
    SpinalLevel,
    T2Signal,
    parse_enum,
)
from resorb.domain import TherapyCourse as DomainTherapy
from resorb.domain.bounds import (
    check_birth_year,
    check_clinical_date,
    check_diameters_mm,
    check_volume_mm3,
)
from resorb.errors import InvalidInputError
from resorb.scores import odi_percent, validate_nrs, validate_vas_mm

__all__ = [
    "FindingsIn",
    "MRIIn",
    "PatientIn",
    "PatientUpdate",
    "TherapyIn",
    "VisitIn",
    "validate_input",
]

M = TypeVar("M", bound=BaseModel)

_PSEUDONYM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def _enum_value(enum):
    """A pydantic validator storing the enum's *value* after parsing it."""

    def parse(value: Any) -> Any:
        if value is None or value == "":
            return None
        return parse_enum(enum, value, field="").value

    return BeforeValidator(parse)


LevelValue = Annotated[str, _enum_value(SpinalLevel)]
SexValue = Annotated[str, _enum_value(Sex)]


def _not_future(v: dt.date | None) -> dt.date | None:
    """Refuse a date after today (as case files do: a visit, scan or onset that
    has not happened yet cannot enter an assessment) or before the earliest
    plausible year (:mod:`resorb.domain.bounds`)."""
    return None if v is None else check_clinical_date(v, field="")


def _not_future_year(v: int | None) -> int | None:
    return None if v is None else check_birth_year(v, field="")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class PatientIn(_Strict):
    """A new patient: pseudonym (no names, no hospital numbers), birth year, sex."""

    pseudonym: str = Field(min_length=1, max_length=64)
    birth_year: int
    sex: SexValue
    site: str | None = Field(default=None, max_length=64)
    onset_date: dt.date | None = None

    @field_validator("pseudonym")
    @classmethod
    def _pseudonym(cls, v: str) -> str:
        if not _PSEUDONYM.match(v):
            raise ValueError(
                "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return v

    @field_validator("site")
    @classmethod
    def _no_blank_site(cls, v: str | None) -> str | None:
        return v or None

    @field_validator("birth_year")
    @classmethod
    def _birth_year(cls, v: int) -> int:
        return _not_future_year(v)

    @field_validator("onset_date")
    @classmethod
    def _onset(cls, v: dt.date | None) -> dt.date | None:
        return _not_future(v)


class PatientUpdate(_Strict):
    """Changes to a patient; fields left out are not touched."""

    birth_year: int | None = None
    sex: SexValue | None = None
    site: str | None = Field(default=None, max_length=64)
    onset_date: dt.date | None = None

    @field_validator("birth_year")
    @classmethod
    def _birth_year(cls, v: int | None) -> int | None:
        return _not_future_year(v)

    @field_validator("onset_date")
    @classmethod
    def _onset(cls, v: dt.date | None) -> dt.date | None:
        return _not_future(v)


def _finite(v: float | None) -> float | None:
    if v is not None and not math.isfinite(v):
        raise ValueError("must be a finite number")
    return v


class VisitIn(_Strict):
    """A follow-up visit; every score is optional, each is checked against its scale."""

    date: dt.date
    leg_pain_nrs: float | None = None
    back_pain_nrs: float | None = None
    vas_mm: float | None = None
    odi_answers: list[int | None] | None = None
    joa_total: int | None = Field(default=None, ge=-6, le=29)
    rmdq: int | None = Field(default=None, ge=0, le=24)
    motor_mrc: int | None = Field(default=None, ge=0, le=5)
    slr_degrees: float | None = Field(default=None, ge=0, le=90)
    red_flags: list[Annotated[str, _enum_value(RedFlag)]] = Field(default_factory=list)
    notes: str | None = Field(default=None, max_length=4000)
    #: Symptoms came back after recovery (a recurrence); None = not recorded.
    recurrence: bool | None = None

    @field_validator("date")
    @classmethod
    def _date(cls, v: dt.date) -> dt.date:
        return _not_future(v)

    @field_validator("leg_pain_nrs", "back_pain_nrs")
    @classmethod
    def _nrs(cls, v: float | None) -> float | None:
        if _finite(v) is not None:
            validate_nrs(v, field="")
        return v

    @field_validator("vas_mm")
    @classmethod
    def _vas(cls, v: float | None) -> float | None:
        if _finite(v) is not None:
            validate_vas_mm(v, field="")
        return v

    @field_validator("slr_degrees")
    @classmethod
    def _slr(cls, v: float | None) -> float | None:
        return _finite(v)

    @field_validator("odi_answers")
    @classmethod
    def _odi(cls, v: list[int | None] | None) -> list[int | None] | None:
        if v is not None:
            odi_percent(v)
        return v

    @field_validator("notes")
    @classmethod
    def _no_blank_note(cls, v: str | None) -> str | None:
        return v or None  # surrounding whitespace is stripped; a blank note is no note

    @field_validator("red_flags")
    @classmethod
    def _unique_flags(cls, v: list[str]) -> list[str]:
        return sorted(set(v))

    @property
    def odi_percent(self) -> float | None:
        """ODI in percent from the answers (None when no answers were given)."""
        return None if self.odi_answers is None else odi_percent(self.odi_answers).odi_percent


class MRIIn(_Strict):
    """An MRI measurement entered by hand or by a tool.

    ``source``: ``manual`` (a volume read off a workstation), ``mask`` (a volume
    measured from a label image by :mod:`resorb.imaging`), ``diameters`` (three
    orthogonal diameters; volume = pi/6 * AP * TR * CC, the ellipsoid of
    ``resorb volume --ellipsoid``). DICOM imports use :func:`resorb.registry.import_dicom`.
    """

    date: dt.date
    source: Literal["manual", "mask", "diameters"] = "manual"
    volume_mm3: float | None = None
    diameters_mm: tuple[float, float, float] | None = None
    level: LevelValue | None = None
    method: str | None = Field(default=None, max_length=64)

    @field_validator("date")
    @classmethod
    def _date(cls, v: dt.date) -> dt.date:
        return _not_future(v)

    @field_validator("volume_mm3")
    @classmethod
    def _vol(cls, v: float | None) -> float | None:
        return None if v is None else check_volume_mm3(v, field="")

    @field_validator("diameters_mm")
    @classmethod
    def _diam(cls, v):
        return None if v is None else check_diameters_mm(v, field="")

    @model_validator(mode="after")
    def _one_measurement(self) -> MRIIn:
        if self.source == "diameters":
            if self.diameters_mm is None:
                raise ValueError("source 'diameters' needs diameters_mm")
            if self.volume_mm3 is not None:
                raise ValueError("give diameters_mm or volume_mm3, not both")
            from resorb.imaging import ellipsoid_volume_mm3

            check_volume_mm3(ellipsoid_volume_mm3(*self.diameters_mm), field="diameters_mm")
        else:
            if self.volume_mm3 is None:
                raise ValueError(f"source {self.source!r} needs volume_mm3")
            if self.diameters_mm is not None:
                raise ValueError("diameters_mm only with source 'diameters'")
        return self

    @property
    def computed_volume_mm3(self) -> float:
        """The stored volume: as given, or the ellipsoid volume of the diameters."""
        if self.diameters_mm is not None:
            from resorb.imaging import ellipsoid_volume_mm3

            return ellipsoid_volume_mm3(*self.diameters_mm)
        assert self.volume_mm3 is not None
        return self.volume_mm3

    @property
    def computed_method(self) -> str:
        if self.method:
            return self.method
        # The vocabulary of resorb.imaging.VolumeMeasurement.method.
        return {"manual": "reported", "mask": "voxel_count", "diameters": "ellipsoid"}[self.source]


class FindingsIn(_Strict):
    """Structured herniation findings (the case-file keys, docs/case-file.md)."""

    level: LevelValue
    morphology: Annotated[str, _enum_value(HerniationMorphology)]
    containment: Annotated[str, _enum_value(Containment)] | None = None
    pll: Annotated[str, _enum_value(PLLIntegrity)] | None = None
    zone: Annotated[str, _enum_value(AxialZone)] | None = None
    migration: Annotated[str, _enum_value(Migration)] | None = None
    komori: Annotated[int, _enum_value(KomoriType)] | None = None
    msu: str | None = None
    rim_enhancement: Annotated[str, _enum_value(RimEnhancement)] | None = None
    iwabuchi: Annotated[int, _enum_value(IwabuchiType)] | None = None
    t2_signal: Annotated[str, _enum_value(T2Signal)] | None = None
    modic: Annotated[int, _enum_value(ModicType)] | None = None
    pfirrmann: Annotated[int, _enum_value(PfirrmannGrade)] | None = None
    schizas: Annotated[str, _enum_value(SchizasGrade)] | None = None
    canal_compromise_percent: float | None = Field(default=None, ge=0, le=100)

    @field_validator("msu")
    @classmethod
    def _msu(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        size, _, zone = str(v).partition("-")
        s = parse_enum(MSUSize, size, field="")
        z = parse_enum(MSUZone, zone, field="").value if zone else None
        return f"{int(s)}-{z}" if z else str(int(s))

    @property
    def msu_size(self) -> int | None:
        return None if self.msu is None else int(self.msu.split("-")[0])

    @property
    def msu_zone(self) -> str | None:
        if self.msu is None or "-" not in self.msu:
            return None
        return self.msu.split("-", 1)[1]

    def to_domain(self) -> HerniationFindings:
        """The domain object (checks the cross-field invariants)."""
        return findings_to_domain(
            self.model_dump(exclude={"msu"})
            | {"msu_size": self.msu_size, "msu_zone": self.msu_zone}
        )


def findings_to_domain(values: dict[str, Any]) -> HerniationFindings:
    """Build :class:`~resorb.domain.HerniationFindings` from stored enum values."""
    kwargs: dict[str, Any] = {}
    for name, enum in FINDING_ENUMS.items():
        value = values.get(name)
        kwargs[name] = (
            None if value is None else parse_enum(enum, value, field=f"herniation.{name}")
        )
    kwargs["canal_compromise_percent"] = values.get("canal_compromise_percent")
    return HerniationFindings(**kwargs)


class TherapyIn(_Strict):
    """A conservative therapy course: a :mod:`resorb.therapy` catalogue id or alias
    (stored as the id), optional start and end."""

    name: str = Field(min_length=1, max_length=64)
    start: dt.date | None = None
    end: dt.date | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        from resorb.therapy import get_therapy

        return get_therapy(v).id

    @field_validator("start")
    @classmethod
    def _start(cls, v: dt.date | None) -> dt.date | None:
        return _not_future(v)  # as in case files: a course may end later, not start later

    @field_validator("end")
    @classmethod
    def _end(cls, v: dt.date | None) -> dt.date | None:
        return None if v is None else check_clinical_date(v, field="", allow_future=True)

    @model_validator(mode="after")
    def _order(self) -> TherapyIn:
        DomainTherapy(name=self.name, start=self.start, end=self.end)
        return self


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if not (isinstance(p, str) and p.startswith("function-"))]
    return ".".join(parts)


def validate_input(model: type[M], data: Any, *, field: str = "") -> M:
    """Validate ``data`` (a mapping or a model) into ``model``.

    Raises
    ------
    InvalidInputError
        Naming the dotted field (prefixed by ``field``) and what is allowed.
    """
    if isinstance(data, model):
        return data
    if isinstance(data, BaseModel):
        data = data.model_dump()
    prefix = f"{field}." if field else ""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        name = prefix + (_loc(err["loc"]) or "input")
        name = name.rstrip(".") or "input"
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, InvalidInputError):
            if not _loc(err["loc"]) and cause.field:
                name = prefix + cause.field.rsplit(".", 1)[-1]
            raise InvalidInputError(name, cause.message, allowed=cause.allowed) from None
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(model.model_fields)
            raise InvalidInputError(name, "is not a known field", allowed=allowed) from None
        if err["type"] == "missing":
            raise InvalidInputError(name, "is required") from None
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        raise InvalidInputError(name, msg) from None
    except InvalidInputError as exc:  # raised by a domain constructor in an after-validator
        raise InvalidInputError(
            prefix + exc.field if exc.field else field or "input", exc.message, allowed=exc.allowed
        ) from None
