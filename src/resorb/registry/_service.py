"""The registry service: every read and write of the follow-up registry goes through here.

>>> reg = Registry("sqlite://")           # in-memory; files: "sqlite:///./resorb.db"
>>> reg.upgrade()                          # create or migrate the schema (Alembic)
>>> p = reg.create_patient({"pseudonym": "LDH-001", "birth_year": 1980, "sex": "female"},
...                        actor="system")
>>> reg.get_patient(p.id).pseudonym
'LDH-001'

Each public write runs in one transaction together with its audit entries: it
either happens completely, with the acting user logged, or not at all.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from resorb.errors import InvalidInputError, ResorbError
from resorb.registry import _models as m
from resorb.registry._audit import install_audit
from resorb.registry._records import (
    AssessmentRecord,
    FindingsRecord,
    MRIRecord,
    PatientRecord,
    TherapyRecord,
    UserRecord,
    VisitRecord,
)
from resorb.registry._schemas import (
    FindingsIn,
    MRIIn,
    PatientIn,
    PatientUpdate,
    TherapyIn,
    VisitIn,
    findings_to_domain,
    validate_input,
)
from resorb.registry._security import check_password_policy, hash_password, verify_password

__all__ = [
    "DATE_SHIFT_RANGE_DAYS",
    "DEFAULT_URL",
    "RED_FLAG_CARRY_DAYS",
    "RecordNotFoundError",
    "Registry",
    "resorption_between",
]

#: Default registry: an SQLite file in the working directory.
DEFAULT_URL = "sqlite:///./resorb.db"

#: Per-patient date offsets are drawn uniformly from this range (days, inclusive).
#: An assumption of this project: PS3.15 asks for a consistent shift that keeps
#: intervals ("Retain Longitudinal Temporal Information with Modified Dates")
#: but fixes no size; 30 days to 2 years backwards hides day, month and year.
DATE_SHIFT_RANGE_DAYS = (-730, -30)

#: Red flags recorded at a visit stay in the assessed case for this many days
#: (see :meth:`Registry.case_from_registry`). An assumption of this project, not
#: a published number: long enough that a cauda equina sign ticked at one visit
#: is not lost when the next visit (typically 2-12 weeks later in conservative
#: follow-up) leaves the box empty; short enough that a sign from a past
#: episode does not keep a patient in urgent triage for ever.
RED_FLAG_CARRY_DAYS = 90


class RecordNotFoundError(ResorbError, LookupError):
    """A patient, visit or other record that does not exist in the registry."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def resorption_between(v0_mm3: float, v1_mm3: float, *,
                       days: float | None = None) -> dict[str, Any]:
    """Resorption percent and grade of ``v1_mm3`` against the baseline ``v0_mm3``.

    Uses :func:`resorb.imaging.compare_volumes` (grade thresholds of Zou et al.
    2023, PMID 37559207, from the evidence base; minimal detectable change
    flag) without warning. A baseline of 0 mm3 has no resorption percent.

    Returns
    -------
    dict
        ``resorption_percent`` (signed, %), ``grade``, ``within_mdc`` (bool or
        None), ``mdc_mm3``, ``method``.
    """
    from resorb.imaging import compare_volumes

    if not v0_mm3 > 0:
        return {"resorption_percent": None, "grade": None, "within_mdc": None,
                "mdc_mm3": None, "method": "baseline volume is 0 mm3: resorption undefined"}
    r = compare_volumes(v0_mm3, v1_mm3, days=days if days else None, warn=False)
    return {"resorption_percent": float(r.resorption_percent), "grade": r.grade.value,
            "within_mdc": bool(r.within_mdc), "mdc_mm3": float(r.mdc_mm3),
            "method": "resorb.imaging.compare_volumes"}


class Registry:
    """A follow-up registry on SQLite (default) or PostgreSQL.

    Parameters
    ----------
    url : str
        SQLAlchemy URL: ``sqlite:///./resorb.db`` (default), ``sqlite://`` (in
        memory, one connection), ``postgresql+psycopg://user:pw@host:port/db``.
    engine : sqlalchemy.engine.Engine, optional
        Use this engine instead of creating one from ``url``.

    Notes
    -----
    Methods take and return plain data: input mappings (validated by the
    schemas in :mod:`resorb.registry._schemas`) and frozen records. Every write
    names its acting user (``actor=username``) for the audit log.
    """

    def __init__(self, url: str = DEFAULT_URL, *, engine: Engine | None = None) -> None:
        if engine is None:
            engine = _make_engine(url)
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=True)
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)
        install_audit(self._sessions)

    # -- plumbing ----------------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> None:
        """Create or migrate the schema with the packaged Alembic migrations."""
        from resorb.registry._migrate import upgrade

        upgrade(self.engine, revision)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Registry({self.url!r})"  # the password is masked

    @contextmanager
    def transaction(self, *, actor: str) -> Iterator[Session]:
        """A session in one transaction, committed on success and rolled back on error.

        ``actor`` is written to the audit log of every change made in it.
        """
        if not actor or not isinstance(actor, str):
            raise InvalidInputError("actor", "no acting user given", allowed="a username")
        with self._sessions() as session:
            session.info["actor"] = actor
            try:
                with session.begin():
                    session.info["actor_id"] = session.scalar(
                        select(m.User.id).where(m.User.username == actor))
                    yield session
            except IntegrityError as exc:
                raise _integrity_error(exc) from None

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session (nothing it changes is committed)."""
        with self._sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    # -- users ---------------------------------------------------------------------------

    def add_user(self, username: str, password: str, *, role: str = "clinician",
                 actor: str | None = None) -> UserRecord:
        """Create a user with an argon2 password hash.

        Raises
        ------
        InvalidInputError
            ``username`` taken or malformed, ``role`` unknown, password too short.
        """
        username = (username or "").strip()
        if not username or len(username) > 64 or any(c.isspace() for c in username):
            raise InvalidInputError("username", f"{username!r} is not a valid user name",
                                    allowed="1-64 characters without spaces")
        if role not in m.ROLES:
            raise InvalidInputError("role", f"{role!r} is not a role", allowed=", ".join(m.ROLES))
        check_password_policy(password)
        with self.transaction(actor=actor or username) as s:
            if s.scalar(select(m.User.id).where(m.User.username == username)) is not None:
                raise InvalidInputError("username", f"{username!r} already exists",
                                        allowed="a user name not yet taken")
            user = m.User(username=username, password_hash=hash_password(password), role=role,
                          active=True)
            s.add(user)
            s.flush()
            return UserRecord.from_row(user)

    def authenticate(self, username: str, password: str) -> UserRecord | None:
        """The active user with this name and password, or None."""
        with self.reading() as s:
            user = s.scalar(select(m.User).where(m.User.username == username))
            if user is None or not user.active:
                # Spend the same time as a real check so timing does not reveal names.
                verify_password(_DUMMY_HASH(), password or "")
                return None
            if not verify_password(user.password_hash, password or ""):
                return None
            return UserRecord.from_row(user)

    def get_user(self, username: str) -> UserRecord | None:
        """The user with this name, or None."""
        with self.reading() as s:
            user = s.scalar(select(m.User).where(m.User.username == username))
            return None if user is None else UserRecord.from_row(user)

    def list_users(self) -> list[UserRecord]:
        """All users by name."""
        with self.reading() as s:
            return [UserRecord.from_row(u)
                    for u in s.scalars(select(m.User).order_by(m.User.username))]

    def set_user_active(self, username: str, active: bool, *, actor: str) -> UserRecord:
        """Activate or deactivate a user (users are never deleted: the audit log names them)."""
        with self.transaction(actor=actor) as s:
            user = s.scalar(select(m.User).where(m.User.username == username))
            if user is None:
                raise RecordNotFoundError("username", f"no user {username!r}")
            user.active = bool(active)
            s.flush()
            return UserRecord.from_row(user)

    def set_user_password(self, username: str, password: str, *, actor: str) -> UserRecord:
        """Replace a user's password (argon2 hash; the audit entry shows it redacted)."""
        check_password_policy(password)
        with self.transaction(actor=actor) as s:
            user = s.scalar(select(m.User).where(m.User.username == username))
            if user is None:
                raise RecordNotFoundError("username", f"no user {username!r}")
            user.password_hash = hash_password(password)
            s.flush()
            return UserRecord.from_row(user)

    # -- patients ------------------------------------------------------------------------

    def create_patient(self, data: Mapping[str, Any] | PatientIn, *, actor: str) -> PatientRecord:
        """Create a patient from ``{"pseudonym", "birth_year", "sex", ["site", "onset_date"]}``."""
        with self.transaction(actor=actor) as s:
            return PatientRecord.from_row(_create_patient(s, data))

    def get_patient(self, patient_id: int) -> PatientRecord:
        """The patient with this id; :class:`RecordNotFoundError` if there is none."""
        with self.reading() as s:
            return PatientRecord.from_row(_patient(s, patient_id))

    def find_patient(self, pseudonym: str) -> PatientRecord | None:
        """The patient with this pseudonym, or None."""
        with self.reading() as s:
            p = s.scalar(select(m.Patient).where(m.Patient.pseudonym == pseudonym))
            return None if p is None else PatientRecord.from_row(p)

    def list_patients(self, *, search: str | None = None, limit: int = 50,
                      offset: int = 0) -> list[PatientRecord]:
        """Patients ordered by id; ``search`` matches part of the pseudonym or site."""
        if not 1 <= limit <= 1000:
            raise InvalidInputError("limit", f"{limit}", allowed="1-1000")
        if offset < 0:
            raise InvalidInputError("offset", f"{offset}", allowed=">= 0")
        q = select(m.Patient).order_by(m.Patient.id)
        if search:
            like = f"%{_escape_like(search.strip())}%"
            q = q.where(or_(m.Patient.pseudonym.ilike(like, escape="\\"),
                            m.Patient.site.ilike(like, escape="\\")))
        with self.reading() as s:
            return [PatientRecord.from_row(p) for p in s.scalars(q.limit(limit).offset(offset))]

    def count_patients(self, *, search: str | None = None) -> int:
        """Number of patients (matching ``search`` like :meth:`list_patients`)."""
        q = select(func.count(m.Patient.id))
        if search:
            like = f"%{_escape_like(search.strip())}%"
            q = q.where(or_(m.Patient.pseudonym.ilike(like, escape="\\"),
                            m.Patient.site.ilike(like, escape="\\")))
        with self.reading() as s:
            return int(s.scalar(q) or 0)

    def update_patient(self, patient_id: int, changes: Mapping[str, Any] | PatientUpdate, *,
                       actor: str) -> PatientRecord:
        """Change birth year, sex, site or onset date (only the keys given)."""
        upd = validate_input(PatientUpdate, changes, field="patient")
        given = upd.model_dump(exclude_unset=True)
        with self.transaction(actor=actor) as s:
            p = _patient(s, patient_id)
            for key, value in given.items():
                setattr(p, key, value)
            s.flush()
            return PatientRecord.from_row(p)

    def delete_patient(self, patient_id: int, *, actor: str) -> None:
        """Delete a patient and everything recorded for them (audited row by row)."""
        with self.transaction(actor=actor) as s:
            p = _patient(s, patient_id)
            # Delete children explicitly (findings first: they hang off visits and MRI)
            # so that each deletion gets its own audit entry.
            for child in list(p.findings):
                s.delete(child)
            s.flush()
            for rel in (p.visits, p.mri_studies, p.therapies, p.assessments):
                for child in list(rel):
                    s.delete(child)
            shift = s.get(m.DateShift, patient_id)
            if shift is not None:
                s.delete(shift)
            s.flush()
            s.expire(p)  # reload the (now empty) collections before the cascade runs
            s.delete(p)

    # -- follow-up data ------------------------------------------------------------------

    def add_visit(self, patient_id: int, data: Mapping[str, Any] | VisitIn, *,
                  actor: str) -> VisitRecord:
        """Record a visit with its scores (validated against each scale)."""
        with self.transaction(actor=actor) as s:
            return _visit_record(_add_visit(s, patient_id, data))

    def delete_visit(self, visit_id: int, *, actor: str) -> None:
        """Delete a visit (and findings recorded at it)."""
        with self.transaction(actor=actor) as s:
            _delete_with_findings(s, m.Visit, visit_id, field="visit_id", what="visit")

    def add_mri(self, patient_id: int, data: Mapping[str, Any] | MRIIn, *,
                actor: str) -> MRIRecord:
        """Record an MRI measurement (manual volume, mask volume or three diameters)."""
        with self.transaction(actor=actor) as s:
            row = _add_mri(s, patient_id, data)
            return MRIRecord.from_row(row)

    def delete_mri(self, mri_id: int, *, actor: str) -> None:
        """Delete an MRI study (and findings recorded on it)."""
        with self.transaction(actor=actor) as s:
            _delete_with_findings(s, m.MRIStudy, mri_id, field="mri_id", what="MRI study")

    def add_findings(self, patient_id: int, data: Mapping[str, Any] | FindingsIn, *,
                     mri_id: int | None = None, visit_id: int | None = None,
                     actor: str) -> FindingsRecord:
        """Record structured findings on an MRI (``mri_id``) or at a visit (``visit_id``)."""
        with self.transaction(actor=actor) as s:
            return FindingsRecord.from_row(
                _add_findings(s, patient_id, data, mri_id=mri_id, visit_id=visit_id))

    def add_therapy(self, patient_id: int, data: Mapping[str, Any] | TherapyIn, *,
                    actor: str) -> TherapyRecord:
        """Record a therapy course."""
        with self.transaction(actor=actor) as s:
            return TherapyRecord.from_row(_add_therapy(s, patient_id, data))

    def save_assessment(self, patient_id: int, result: Mapping[str, Any], *, actor: str,
                        version: str | None = None) -> AssessmentRecord:
        """Store an assessment result (the ``resorb assess --json`` object)."""
        from resorb import __version__
        from resorb.cli._common import to_jsonable

        if not isinstance(result, Mapping):
            raise InvalidInputError("result", "is not an object", allowed="a JSON object")
        with self.transaction(actor=actor) as s:
            _patient(s, patient_id)
            row = m.Assessment(patient_id=patient_id, result=to_jsonable(dict(result)),
                               version=version or __version__,
                               created_by=s.info.get("actor_id"))
            s.add(row)
            s.flush()
            return AssessmentRecord.from_row(row)

    def list_assessments(self, patient_id: int) -> list[AssessmentRecord]:
        """A patient's stored assessments, oldest first."""
        with self.reading() as s:
            _patient(s, patient_id)
            q = (select(m.Assessment).where(m.Assessment.patient_id == patient_id)
                 .order_by(m.Assessment.id))
            return [AssessmentRecord.from_row(a) for a in s.scalars(q)]

    def list_visits(self, patient_id: int) -> list[VisitRecord]:
        with self.reading() as s:
            return [_visit_record(v) for v in _patient(s, patient_id).visits]

    def list_mri(self, patient_id: int) -> list[MRIRecord]:
        """MRI studies on the clinic's calendar, oldest first."""
        with self.reading() as s:
            p = _patient(s, patient_id)
            off = _offset(s, patient_id)
            rows = [MRIRecord.from_row(r, offset_days=off) for r in p.mri_studies]
            return sorted(rows, key=lambda r: (r.date, r.id))

    def list_findings(self, patient_id: int) -> list[FindingsRecord]:
        with self.reading() as s:
            return [FindingsRecord.from_row(f) for f in _patient(s, patient_id).findings]

    def list_therapies(self, patient_id: int) -> list[TherapyRecord]:
        with self.reading() as s:
            return [TherapyRecord.from_row(t) for t in _patient(s, patient_id).therapies]

    def audit_log(self, *, table: str | None = None, row_id: int | str | None = None,
                  limit: int = 1000) -> list[dict[str, Any]]:
        """Audit entries, newest last."""
        q = select(m.AuditLog).order_by(m.AuditLog.id)
        if table:
            q = q.where(m.AuditLog.table_name == table)
        if row_id is not None:
            q = q.where(m.AuditLog.row_id == str(row_id))
        with self.reading() as s:
            return [{"id": a.id, "at": a.at, "actor": a.actor, "user_id": a.user_id,
                     "action": a.action, "table": a.table_name, "row_id": a.row_id,
                     "diff": a.diff} for a in s.scalars(q.limit(limit))]

    # -- views ---------------------------------------------------------------------------

    def patient_timeline(self, patient_id: int) -> dict[str, Any]:
        """Everything about a patient in date order, with resorption and MCID flags.

        Returns
        -------
        dict
            ``patient``; ``visits`` (each with ``mcid``: for NRS leg/back, VAS,
            ODI and RMDQ the change from the first visit with that score, after
            Ostelo 2008, PMID 18165753; and ``joa_recovery_rate_percent``
            against the first visit with a JOA total); ``mri`` (each with ``days_since_baseline``,
            ``resorption_percent`` and ``grade`` against the first MRI of the
            same level that has a volume); ``findings``; ``therapies``;
            ``assessments`` (id, created_at, version).
        """
        from resorb.scores import JOA_MAX, joa_recovery_rate_percent, mcid_improvement

        patient = self.get_patient(patient_id)
        visits = self.list_visits(patient_id)
        mris = self.list_mri(patient_id)
        scales = {"leg_pain_nrs": "nrs", "back_pain_nrs": "nrs", "vas_mm": "vas_mm",
                  "odi_percent": "odi_percent", "rmdq": "rmdq"}
        baseline: dict[str, float] = {}
        visit_rows = []
        for v in visits:
            row = v.as_dict()
            flags: dict[str, Any] = {}
            for key, scale in scales.items():
                value = getattr(v, key)
                if value is None:
                    continue
                if key not in baseline:
                    baseline[key] = value
                    continue
                r = mcid_improvement(scale, baseline[key], value)
                flags[key] = {"baseline": r.baseline, "value": r.followup,
                              "improvement": r.improvement,
                              "improvement_percent": r.improvement_percent,
                              "mcid_absolute": r.mcid_absolute,
                              "mcid_relative_percent": r.mcid_relative_percent,
                              "reached": r.reached}
            row["mcid"] = flags
            row["joa_recovery_rate_percent"] = None
            if v.joa_total is not None:
                if "joa_total" not in baseline:
                    baseline["joa_total"] = v.joa_total
                elif baseline["joa_total"] < JOA_MAX:
                    row["joa_recovery_rate_percent"] = joa_recovery_rate_percent(
                        baseline["joa_total"], v.joa_total)
            visit_rows.append(row)
        first: dict[str | None, MRIRecord] = {}
        mri_rows = []
        for r in mris:
            row = r.as_dict()
            row.update(days_since_baseline=None, resorption_percent=None, grade=None,
                       within_mdc=None, resorption_method=None)
            if r.volume_mm3 is not None:
                base = first.setdefault(r.level, r)
                row["days_since_baseline"] = (r.date - base.date).days
                if base.id != r.id:
                    res = resorption_between(base.volume_mm3, r.volume_mm3,
                                             days=row["days_since_baseline"])
                    row.update(resorption_percent=res["resorption_percent"], grade=res["grade"],
                               within_mdc=res["within_mdc"], resorption_method=res["method"])
            mri_rows.append(row)
        return {
            "patient": patient.as_dict(),
            "visits": visit_rows,
            "mri": mri_rows,
            "findings": [f.as_dict() | {"msu": f.msu} for f in self.list_findings(patient_id)],
            "therapies": [t.as_dict() for t in self.list_therapies(patient_id)],
            "assessments": [{"id": a.id, "created_at": a.created_at, "version": a.version}
                            for a in self.list_assessments(patient_id)],
        }

    def case_from_registry(self, patient_id: int, *, visit: str = "latest"):
        """Build a :class:`resorb.domain.Case` from a registry record.

        Parameters
        ----------
        patient_id : int
        visit : {"latest", "first"}
            Whose scores go into ``Case.symptoms``: the most recent visit
            (default; what an assessment today should see) or the first.

        Notes
        -----
        Findings: those of the most recent MRI with findings, else of the most
        recent visit with findings. MRI: the studies of that level (or without a
        level) that carry a measurement, on the clinic's calendar. Age: years
        between the birth year and the first MRI or visit.

        Red flags are safety findings and are not dropped because a later visit
        did not tick them again: the case carries every red flag recorded at the
        chosen visit or at any earlier visit in the :data:`RED_FLAG_CARRY_DAYS`
        days before it (the union). A red flag older than that window no longer
        triggers triage; one recorded by mistake is removed by deleting that
        visit (audited).

        Raises
        ------
        InvalidInputError
            When no findings (level and morphology) have been recorded.
        """
        from resorb.domain import Case, Patient, RedFlag, Sex, Symptoms, parse_enum
        from resorb.domain import MRIStudy as DomainMRI
        from resorb.domain import TherapyCourse as DomainTherapy

        if visit not in ("latest", "first"):
            raise InvalidInputError("visit", f"{visit!r}", allowed="latest, first")
        rec = self.get_patient(patient_id)
        visits = self.list_visits(patient_id)
        mris = self.list_mri(patient_id)
        findings = self.list_findings(patient_id)
        therapies = self.list_therapies(patient_id)
        mri_by_id = {r.id: r for r in mris}
        visit_by_id = {v.id: v for v in visits}
        on_mri = [f for f in findings if f.mri_id in mri_by_id]
        on_visit = [f for f in findings if f.visit_id in visit_by_id]
        chosen = None
        if on_mri:
            chosen = max(on_mri, key=lambda f: (mri_by_id[f.mri_id].date, f.id))
        elif on_visit:
            chosen = max(on_visit, key=lambda f: (visit_by_id[f.visit_id].date, f.id))
        if chosen is None:
            raise InvalidInputError(
                "herniation", f"patient {patient_id} has no structured findings",
                allowed="record findings (at least level and morphology) on an MRI or visit")
        herniation = findings_to_domain(chosen.as_dict())
        studies = []
        for r in mris:
            if r.level not in (None, chosen.level):
                continue
            if r.source == "diameters" and r.diameters_mm:
                studies.append(DomainMRI(date=r.date, diameters_mm=tuple(r.diameters_mm),
                                         index=len(studies)))
            elif r.volume_mm3 is not None:
                studies.append(DomainMRI(date=r.date, volume_mm3=r.volume_mm3,
                                         index=len(studies)))
        dates = [v.date for v in visits] + [s.date for s in studies]
        ref = min(dates) if dates else dt.date.today()
        patient = Patient(age_years=max(0, ref.year - rec.birth_year),
                          sex=parse_enum(Sex, rec.sex, field="patient.sex"))
        symptoms = Symptoms(onset_date=rec.onset_date)
        if visits:
            v = visits[-1] if visit == "latest" else visits[0]
            since = v.date - dt.timedelta(days=RED_FLAG_CARRY_DAYS)
            flags = {f for w in visits if since <= w.date <= v.date for f in w.red_flags}
            symptoms = Symptoms(
                onset_date=rec.onset_date, leg_pain_nrs=v.leg_pain_nrs,
                back_pain_nrs=v.back_pain_nrs, vas_mm=v.vas_mm,
                odi_answers=None if v.odi_answers is None else tuple(v.odi_answers),
                slr_degrees=v.slr_degrees, motor_mrc=v.motor_mrc,
                red_flags=frozenset(parse_enum(RedFlag, f, field="symptoms.red_flags")
                                    for f in sorted(flags)))
        courses = tuple(DomainTherapy(name=t.name, start=t.start, end=t.end, index=i)
                        for i, t in enumerate(therapies))
        return Case(herniation=herniation, patient=patient, symptoms=symptoms,
                    mri=tuple(studies), therapies=courses)

    def date_offset_days(self, patient_id: int, *, actor: str) -> int:
        """The patient's secret date offset, drawn on first use (for exports and DICOM)."""
        with self.transaction(actor=actor) as s:
            return _ensure_offset(s, patient_id)

    def pseudonymised_view(self, *, actor: str, min_site_count: int = 5) -> list[dict[str, Any]]:
        """The registry as a researcher may see it.

        No free-text notes, no database ids, no DICOM series details, birth year
        only, every date shifted by the patient's secret offset (intervals
        kept), and ``site`` only where at least ``min_site_count`` patients
        share it (a rarer site could single a patient out).
        """
        with self.transaction(actor=actor) as s:
            patients = list(s.scalars(select(m.Patient).order_by(m.Patient.id)))
            site_counts: dict[str, int] = {}
            for p in patients:
                if p.site:
                    site_counts[p.site] = site_counts.get(p.site, 0) + 1
            out = []
            for p in patients:
                off = dt.timedelta(days=_ensure_offset(s, p.id))

                def shift(d: dt.date | None, _off=off) -> dt.date | None:
                    return None if d is None else d + _off

                keep_site = p.site is not None and site_counts[p.site] >= min_site_count
                out.append({
                    "pseudonym": p.pseudonym,
                    "birth_year": p.birth_year,
                    "sex": p.sex,
                    "site": p.site if keep_site else None,
                    "onset_date": shift(p.onset_date),
                    "visits": [
                        {k: v for k, v in _visit_record(v).as_dict().items()
                         if k not in ("id", "patient_id", "notes")} | {"date": shift(v.date)}
                        for v in p.visits],
                    "mri": [
                        {"date": r.date if r.date_is_shifted else shift(r.date),
                         "level": r.level, "source": r.source, "method": r.method,
                         "volume_mm3": r.volume_mm3, "diameters_mm": r.diameters_mm}
                        for r in sorted(p.mri_studies,
                                        key=lambda r: r.date if r.date_is_shifted
                                        else r.date + off)],
                    "findings": [
                        {k: v for k, v in FindingsRecord.from_row(f).as_dict().items()
                         if k not in ("id", "patient_id", "mri_id", "visit_id")}
                        for f in p.findings],
                    "therapies": [{"name": t.name, "start": shift(t.start), "end": shift(t.end)}
                                  for t in p.therapies],
                })
            return out


# -- internal helpers (take a session; used by the CSV and DICOM importers too) -------------


def _make_engine(url: str) -> Engine:
    if not isinstance(url, str) or "://" not in url:
        raise InvalidInputError("db", f"{url!r} is not a database URL",
                                allowed="sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            from sqlalchemy.pool import StaticPool

            kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        else:
            kwargs = {"connect_args": {"check_same_thread": False}}
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    try:
        engine = create_engine(url, **kwargs)
    except Exception as exc:  # malformed URL or missing driver
        raise InvalidInputError("db", f"cannot use {url!r}: {exc}",
                                allowed="sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
                                ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _integrity_error(exc: IntegrityError) -> InvalidInputError:
    text = str(exc.orig).lower()
    if "pseudonym" in text:
        return InvalidInputError("pseudonym", "already exists", allowed="a pseudonym not yet used")
    if "username" in text:
        return InvalidInputError("username", "already exists", allowed="a user name not yet taken")
    first = str(exc.orig).splitlines()[0] if str(exc.orig) else exc.__class__.__name__
    return InvalidInputError("record", f"violates a database constraint ({first})")


def _patient(s: Session, patient_id: int) -> m.Patient:
    if isinstance(patient_id, bool) or not isinstance(patient_id, int):
        raise InvalidInputError("patient_id", f"{patient_id!r}", allowed="an integer id")
    p = s.get(m.Patient, patient_id)
    if p is None:
        raise RecordNotFoundError("patient_id", f"no patient {patient_id}")
    return p


def _offset(s: Session, patient_id: int) -> int | None:
    row = s.get(m.DateShift, patient_id)
    return None if row is None else row.offset_days


def _ensure_offset(s: Session, patient_id: int) -> int:
    row = s.get(m.DateShift, patient_id)
    if row is None:
        lo, hi = DATE_SHIFT_RANGE_DAYS
        try:
            # A savepoint: if a concurrent transaction drew the offset first, keep theirs.
            with s.begin_nested():
                row = m.DateShift(patient_id=patient_id,
                                  offset_days=lo + secrets.randbelow(hi - lo + 1))
                s.add(row)
        except IntegrityError:
            row = s.get(m.DateShift, patient_id, populate_existing=True)
            if row is None:  # pragma: no cover - the conflict was not about this row
                raise
    return row.offset_days


def _create_patient(s: Session, data: Any, *, field: str = "patient") -> m.Patient:
    p_in = validate_input(PatientIn, data, field=field)
    if s.scalar(select(m.Patient.id).where(m.Patient.pseudonym == p_in.pseudonym)) is not None:
        raise InvalidInputError(f"{field}.pseudonym", f"{p_in.pseudonym!r} already exists",
                                allowed="a pseudonym not yet used")
    p = m.Patient(**p_in.model_dump(), created_by=s.info.get("actor_id"))
    s.add(p)
    s.flush()
    return p


def _visit_record(v: m.Visit) -> VisitRecord:
    return VisitRecord.from_row(v)


def _add_visit(s: Session, patient_id: int, data: Any, *, field: str = "visit") -> m.Visit:
    v_in = validate_input(VisitIn, data, field=field)
    _patient(s, patient_id)
    v = m.Visit(patient_id=patient_id, **v_in.model_dump(), odi_percent=v_in.odi_percent)
    s.add(v)
    s.flush()
    return v


def _add_mri(s: Session, patient_id: int, data: Any) -> m.MRIStudy:
    mri = validate_input(MRIIn, data, field="mri")
    _patient(s, patient_id)
    row = m.MRIStudy(patient_id=patient_id, date=mri.date, date_is_shifted=False,
                     level=mri.level, source=mri.source, method=mri.computed_method,
                     volume_mm3=mri.computed_volume_mm3,
                     diameters_mm=None if mri.diameters_mm is None else list(mri.diameters_mm))
    s.add(row)
    s.flush()
    return row


def _add_findings(s: Session, patient_id: int, data: Any, *, mri_id: int | None,
                  visit_id: int | None) -> m.Findings:
    f_in = validate_input(FindingsIn, data, field="findings")
    try:
        f_in.to_domain()
    except InvalidInputError as exc:
        raise InvalidInputError("findings." + exc.field.split(".")[-1], exc.message,
                                allowed=exc.allowed) from None
    _patient(s, patient_id)
    if (mri_id is None) == (visit_id is None):
        raise InvalidInputError("findings", "needs exactly one of mri_id or visit_id",
                                allowed="the MRI or the visit the findings were made on")
    if mri_id is not None:
        parent = s.get(m.MRIStudy, mri_id)
        if parent is None or parent.patient_id != patient_id:
            raise RecordNotFoundError("mri_id", f"no MRI study {mri_id} for patient {patient_id}")
    else:
        parent = s.get(m.Visit, visit_id)
        if parent is None or parent.patient_id != patient_id:
            raise RecordNotFoundError("visit_id", f"no visit {visit_id} for patient {patient_id}")
    values = f_in.model_dump(exclude={"msu"})
    row = m.Findings(patient_id=patient_id, mri_id=mri_id, visit_id=visit_id, **values,
                     msu_size=f_in.msu_size, msu_zone=f_in.msu_zone)
    s.add(row)
    s.flush()
    return row


def _add_therapy(s: Session, patient_id: int, data: Any) -> m.TherapyCourse:
    t_in = validate_input(TherapyIn, data, field="therapy")
    _patient(s, patient_id)
    row = m.TherapyCourse(patient_id=patient_id, **t_in.model_dump())
    s.add(row)
    s.flush()
    return row


_dummy: list[str] = []


def _DUMMY_HASH() -> str:  # noqa: N802 - a lazily computed constant
    if not _dummy:
        _dummy.append(hash_password(secrets.token_urlsafe(16)))
    return _dummy[0]


def _delete_with_findings(s: Session, model: type, row_id: int, *, field: str,
                          what: str) -> None:
    """Delete a visit or MRI row and the findings recorded on it (``field`` is the FK)."""
    row = s.get(model, row_id)
    if row is None:
        raise RecordNotFoundError(field, f"no {what} {row_id}")
    for f in s.scalars(select(m.Findings).where(getattr(m.Findings, field) == row_id)):
        s.delete(f)
    s.flush()
    s.delete(row)
