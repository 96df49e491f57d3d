"""Frozen records returned by the registry (detached from any database session)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AssessmentRecord",
    "FindingsRecord",
    "MRIRecord",
    "PatientRecord",
    "TherapyRecord",
    "UserRecord",
    "VisitRecord",
]


class _Record:
    __slots__ = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (dates stay ``datetime.date``; use ``to_jsonable`` for JSON)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_row(cls, row: Any):
        return cls(**{f.name: getattr(row, f.name) for f in dataclasses.fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class UserRecord(_Record):
    """A registry user (never carries the password hash)."""

    id: int
    username: str
    role: str
    active: bool
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class PatientRecord(_Record):
    """A registry patient."""

    id: int
    pseudonym: str
    birth_year: int
    sex: str
    site: str | None
    onset_date: dt.date | None
    created_by: int | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class VisitRecord(_Record):
    """A follow-up visit; ``odi_percent`` is computed from ``odi_answers``."""

    id: int
    patient_id: int
    date: dt.date
    leg_pain_nrs: float | None
    back_pain_nrs: float | None
    vas_mm: float | None
    odi_answers: list[int | None] | None
    odi_percent: float | None
    joa_total: int | None
    rmdq: int | None
    motor_mrc: int | None
    slr_degrees: float | None
    red_flags: list[str]
    notes: str | None
    recurrence: bool | None = None


@dataclass(frozen=True, slots=True)
class MRIRecord(_Record):
    """An MRI study; ``date`` is on the clinic's calendar (DICOM shifts undone)."""

    id: int
    patient_id: int
    date: dt.date
    level: str | None
    source: str
    method: str | None
    volume_mm3: float | None
    diameters_mm: list[float] | None
    series_info: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: Any, *, offset_days: int | None = None) -> MRIRecord:
        date = row.date
        if row.date_is_shifted:
            if offset_days is None:  # pragma: no cover - the import always stores an offset
                raise RuntimeError("shifted MRI date without a stored offset")
            date = date - dt.timedelta(days=offset_days)
        return cls(
            id=row.id,
            patient_id=row.patient_id,
            date=date,
            level=row.level,
            source=row.source,
            method=row.method,
            volume_mm3=row.volume_mm3,
            diameters_mm=row.diameters_mm,
            series_info=row.series_info,
        )


@dataclass(frozen=True, slots=True)
class FindingsRecord(_Record):
    """Structured findings, with scale values as stored (enum values)."""

    id: int
    patient_id: int
    mri_id: int | None
    visit_id: int | None
    level: str
    morphology: str
    containment: str | None
    pll: str | None
    zone: str | None
    migration: str | None
    komori: int | None
    msu_size: int | None
    msu_zone: str | None
    rim_enhancement: str | None
    iwabuchi: int | None
    t2_signal: str | None
    modic: int | None
    pfirrmann: int | None
    schizas: str | None
    canal_compromise_percent: float | None

    @property
    def msu(self) -> str | None:
        if self.msu_size is None:
            return None
        return f"{self.msu_size}-{self.msu_zone}" if self.msu_zone else str(self.msu_size)


@dataclass(frozen=True, slots=True)
class TherapyRecord(_Record):
    """A therapy course."""

    id: int
    patient_id: int
    name: str
    start: dt.date | None
    end: dt.date | None


@dataclass(frozen=True, slots=True)
class AssessmentRecord(_Record):
    """A stored assessment result."""

    id: int
    patient_id: int
    created_at: dt.datetime
    created_by: int | None
    result: dict[str, Any]
    version: str
