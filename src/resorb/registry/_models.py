"""SQLAlchemy 2 models of the follow-up registry (one schema for SQLite and PostgreSQL).

Scales are stored as the values of the :mod:`resorb.domain` enums (``"L5-S1"``,
``"extrusion"``, ``3``); the service layer (:mod:`resorb.registry._service`)
validates them through those enums before anything is written, so the database
only ever holds values that parse back into the domain.

Dates of clinical events (visits, MRI, therapies) are the clinic's own dates.
An MRI imported from DICOM arrives de-identified, with its dates shifted by the
patient's secret offset (``date_is_shifted``); the offset lives in its own
table (:class:`DateShift`) so that a clinician's timeline can put the study back
on the calendar and a researcher's export can shift every other date alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ROLES",
    "Assessment",
    "AuditLog",
    "Base",
    "DateShift",
    "Findings",
    "MRIStudy",
    "Patient",
    "TherapyCourse",
    "User",
    "Visit",
]

#: Roles a user may hold; the web app decides what each may do.
ROLES = ("clinician", "researcher", "admin")

#: Deterministic constraint names, so that migrations are the same on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC timestamp column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base; ``__audit_redact__`` names columns never copied into the audit log."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar = {dict[str, Any]: JSON, list[Any]: JSON}
    __audit_redact__: ClassVar[frozenset[str]] = frozenset()


class User(Base):
    """A person who logs in; the password is stored only as an argon2 hash."""

    __tablename__ = "users"
    __audit_redact__: ClassVar[frozenset[str]] = frozenset({"password_hash"})
    __table_args__ = (CheckConstraint("role IN ('clinician', 'researcher', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="clinician")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)


class Patient(Base):
    """A registry patient, known only by a pseudonym."""

    __tablename__ = "patients"
    __table_args__ = (CheckConstraint("sex IN ('female', 'male', 'other')", name="sex"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True)
    birth_year: Mapped[int] = mapped_column(Integer)
    sex: Mapped[str] = mapped_column(String(8))
    site: Mapped[str | None] = mapped_column(String(64))
    onset_date: Mapped[dt.date | None] = mapped_column(Date)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)

    visits: Mapped[list[Visit]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="Visit.date"
    )
    mri_studies: Mapped[list[MRIStudy]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="MRIStudy.date"
    )
    therapies: Mapped[list[TherapyCourse]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="TherapyCourse.start"
    )
    findings: Mapped[list[Findings]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="Findings.id"
    )
    assessments: Mapped[list[Assessment]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="Assessment.id"
    )


class DateShift(Base):
    """Secret per-patient date offset (days) used for DICOM import and research exports.

    Kept apart from the patient row and never copied into the audit log: whoever
    reads the pseudonymised data does not see it.
    """

    __tablename__ = "date_shifts"
    __audit_redact__: ClassVar[frozenset[str]] = frozenset({"offset_days"})

    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True
    )
    offset_days: Mapped[int] = mapped_column(Integer)


class Visit(Base):
    """A follow-up visit with its outcome scores."""

    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    date: Mapped[dt.date] = mapped_column(Date)
    leg_pain_nrs: Mapped[float | None] = mapped_column(Float)
    back_pain_nrs: Mapped[float | None] = mapped_column(Float)
    vas_mm: Mapped[float | None] = mapped_column(Float)
    odi_answers: Mapped[list[Any] | None] = mapped_column(JSON)
    odi_percent: Mapped[float | None] = mapped_column(Float)
    joa_total: Mapped[int | None] = mapped_column(Integer)
    rmdq: Mapped[int | None] = mapped_column(Integer)
    motor_mrc: Mapped[int | None] = mapped_column(Integer)
    slr_degrees: Mapped[float | None] = mapped_column(Float)
    red_flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    #: Symptoms came back after recovery (a recurrence); None = not recorded.
    recurrence: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)

    patient: Mapped[Patient] = relationship(back_populates="visits")


class MRIStudy(Base):
    """One MRI examination and the herniation volume measured on it (if any)."""

    __tablename__ = "mri_studies"
    __table_args__ = (
        CheckConstraint(
            "source IN ('manual', 'mask', 'diameters', 'dicom-seg', 'dicom-series')", name="source"
        ),
        CheckConstraint("volume_mm3 IS NULL OR volume_mm3 >= 0", name="volume_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    date: Mapped[dt.date] = mapped_column(Date)
    date_is_shifted: Mapped[bool] = mapped_column(Boolean, default=False)
    level: Mapped[str | None] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16))
    method: Mapped[str | None] = mapped_column(String(64))
    volume_mm3: Mapped[float | None] = mapped_column(Float)
    diameters_mm: Mapped[list[Any] | None] = mapped_column(JSON)
    series_info: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)

    patient: Mapped[Patient] = relationship(back_populates="mri_studies")


class Findings(Base):
    """Structured herniation findings, attached to an MRI or to a visit."""

    __tablename__ = "findings"
    __table_args__ = (CheckConstraint("(mri_id IS NULL) <> (visit_id IS NULL)", name="one_parent"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    mri_id: Mapped[int | None] = mapped_column(ForeignKey("mri_studies.id", ondelete="CASCADE"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(8))
    morphology: Mapped[str] = mapped_column(String(16))
    containment: Mapped[str | None] = mapped_column(String(16))
    pll: Mapped[str | None] = mapped_column(String(16))
    zone: Mapped[str | None] = mapped_column(String(16))
    migration: Mapped[str | None] = mapped_column(String(16))
    komori: Mapped[int | None] = mapped_column(Integer)
    msu_size: Mapped[int | None] = mapped_column(Integer)
    msu_zone: Mapped[str | None] = mapped_column(String(4))
    rim_enhancement: Mapped[str | None] = mapped_column(String(16))
    iwabuchi: Mapped[int | None] = mapped_column(Integer)
    t2_signal: Mapped[str | None] = mapped_column(String(8))
    modic: Mapped[int | None] = mapped_column(Integer)
    pfirrmann: Mapped[int | None] = mapped_column(Integer)
    schizas: Mapped[str | None] = mapped_column(String(4))
    canal_compromise_percent: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)

    patient: Mapped[Patient] = relationship(back_populates="findings")


class TherapyCourse(Base):
    """A conservative therapy course by catalogue name."""

    __tablename__ = "therapy_courses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    start: Mapped[dt.date | None] = mapped_column(Date)
    end: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)

    patient: Mapped[Patient] = relationship(back_populates="therapies")


class Assessment(Base):
    """A stored ``resorb assess`` result (JSON) with the software version that made it."""

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[str] = mapped_column(String(32))

    patient: Mapped[Patient] = relationship(back_populates="assessments")


class AuditLog(Base):
    """Who changed what and when: one row per created, updated or deleted row."""

    __tablename__ = "audit_log"
    __table_args__ = (CheckConstraint("action IN ('create', 'update', 'delete')", name="action"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(8))
    table_name: Mapped[str] = mapped_column(String(32))
    row_id: Mapped[str] = mapped_column(String(64))
    diff: Mapped[dict[str, Any]] = mapped_column(JSON)


class RegistryKey(Base):
    """A secret of the registry, drawn on first use (``dicom-uid``: the key of the DICOM
    UID map, so that objects imported separately keep referencing each other).

    Never copied into the audit log or an export.
    """

    __tablename__ = "registry_keys"
    __audit_redact__: ClassVar[frozenset[str]] = frozenset({"value"})

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
