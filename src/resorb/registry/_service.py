"""The registry service: every write of the follow-up registry, and its read entry points.

>>> reg = Registry("sqlite://")           # in-memory; files: "sqlite:///./resorb.db"
>>> reg.upgrade()                          # create or migrate the schema (Alembic)
>>> p = reg.create_patient({"pseudonym": "LDH-001", "birth_year": 1980, "sex": "female"},
...                        actor="system")
>>> reg.get_patient(p.id).pseudonym
'LDH-001'

Each public write runs in one transaction together with its audit entries: it
either happens completely, with the acting user logged, or not at all. Reads
open one read-only session each; the views themselves (timeline, case,
research view) are computed in :mod:`resorb.registry._views` from the records
one session loaded.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from resorb._json import to_jsonable
from resorb.errors import InvalidInputError
from resorb.registry import _models as m
from resorb.registry._audit import install_audit
from resorb.registry._engine import DEFAULT_URL, make_engine
from resorb.registry._records import (
    AssessmentRecord,
    FindingsRecord,
    MRIRecord,
    PatientRecord,
    TherapyRecord,
    VisitRecord,
)
from resorb.registry._rows import (
    RecordNotFoundError,
    _add_findings,
    _add_mri,
    _add_therapy,
    _add_visit,
    _create_patient,
    _delete_with_findings,
    _ensure_offset,
    _escape_like,
    _integrity_error,
    _offset,
    _patient,
)
from resorb.registry._schemas import (
    FindingsIn,
    MRIIn,
    PatientIn,
    PatientUpdate,
    TherapyIn,
    VisitIn,
    validate_input,
)
from resorb.registry._users import UserAccounts
from resorb.registry._views import (
    PatientRecords,
    _pseudonym_like,
    case_of,
    load_patient,
    research_count,
    research_row,
    research_rows,
    site_count,
    timeline_of,
)

if TYPE_CHECKING:
    from resorb.domain import Case

__all__ = ["Registry"]


class Registry(UserAccounts):
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
            engine = make_engine(url)
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
                    # A write transaction: on SQLite it takes the write lock at BEGIN.
                    session.connection(execution_options={"resorb_write": True})
                    session.info["actor_id"] = session.scalar(
                        select(m.User.id).where(m.User.username == actor)
                    )
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

    def list_patients(
        self, *, search: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[PatientRecord]:
        """Patients ordered by id; ``search`` matches part of the pseudonym or site."""
        if not 1 <= limit <= 1000:
            raise InvalidInputError("limit", f"{limit}", allowed="1-1000")
        if offset < 0:
            raise InvalidInputError("offset", f"{offset}", allowed=">= 0")
        q = select(m.Patient).order_by(m.Patient.id)
        if search:
            like = f"%{_escape_like(search.strip())}%"
            q = q.where(
                or_(
                    m.Patient.pseudonym.ilike(like, escape="\\"),
                    m.Patient.site.ilike(like, escape="\\"),
                )
            )
        with self.reading() as s:
            return [PatientRecord.from_row(p) for p in s.scalars(q.limit(limit).offset(offset))]

    def count_patients(self, *, search: str | None = None) -> int:
        """Number of patients (matching ``search`` like :meth:`list_patients`)."""
        q = select(func.count(m.Patient.id))
        if search:
            like = f"%{_escape_like(search.strip())}%"
            q = q.where(
                or_(
                    m.Patient.pseudonym.ilike(like, escape="\\"),
                    m.Patient.site.ilike(like, escape="\\"),
                )
            )
        with self.reading() as s:
            return int(s.scalar(q) or 0)

    def update_patient(
        self, patient_id: int, changes: Mapping[str, Any] | PatientUpdate, *, actor: str
    ) -> PatientRecord:
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

    def add_visit(
        self, patient_id: int, data: Mapping[str, Any] | VisitIn, *, actor: str
    ) -> VisitRecord:
        """Record a visit with its scores (validated against each scale)."""
        with self.transaction(actor=actor) as s:
            return VisitRecord.from_row(_add_visit(s, patient_id, data))

    def delete_visit(self, visit_id: int, *, actor: str) -> None:
        """Delete a visit (and findings recorded at it)."""
        with self.transaction(actor=actor) as s:
            _delete_with_findings(s, m.Visit, visit_id, field="visit_id", what="visit")

    def add_mri(self, patient_id: int, data: Mapping[str, Any] | MRIIn, *, actor: str) -> MRIRecord:
        """Record an MRI measurement (manual volume, mask volume or three diameters)."""
        with self.transaction(actor=actor) as s:
            row = _add_mri(s, patient_id, data)
            return MRIRecord.from_row(row)

    def delete_mri(self, mri_id: int, *, actor: str) -> None:
        """Delete an MRI study (and findings recorded on it)."""
        with self.transaction(actor=actor) as s:
            _delete_with_findings(s, m.MRIStudy, mri_id, field="mri_id", what="MRI study")

    def delete_record(self, patient_id: int, kind: str, record_id: int, *, actor: str) -> None:
        """Delete one visit, MRI study, findings entry, therapy course or stored
        assessment of ``patient_id`` (a correction; the audit log keeps the row).

        A visit or MRI study goes with the findings recorded on it. The record
        must belong to the patient, else :class:`RecordNotFoundError`.
        """
        models = {
            "visit": (m.Visit, "visit_id"),
            "mri": (m.MRIStudy, "mri_id"),
            "findings": (m.Findings, None),
            "therapy": (m.TherapyCourse, None),
            "assessment": (m.Assessment, None),
        }
        if kind not in models:
            raise InvalidInputError("kind", f"{kind!r}", allowed=", ".join(models))
        model, fk = models[kind]
        with self.transaction(actor=actor) as s:
            row = s.get(model, record_id) if 1 <= record_id <= 2**63 - 1 else None
            if row is None or row.patient_id != patient_id:
                raise RecordNotFoundError(
                    f"{kind}_id", f"no {kind} {record_id} for patient {patient_id}"
                )
            if fk is not None:
                _delete_with_findings(s, model, record_id, field=fk, what=kind)
            else:
                s.delete(row)

    def add_findings(
        self,
        patient_id: int,
        data: Mapping[str, Any] | FindingsIn,
        *,
        mri_id: int | None = None,
        visit_id: int | None = None,
        actor: str,
    ) -> FindingsRecord:
        """Record structured findings on an MRI (``mri_id``) or at a visit (``visit_id``)."""
        with self.transaction(actor=actor) as s:
            return FindingsRecord.from_row(
                _add_findings(s, patient_id, data, mri_id=mri_id, visit_id=visit_id)
            )

    def add_therapy(
        self, patient_id: int, data: Mapping[str, Any] | TherapyIn, *, actor: str
    ) -> TherapyRecord:
        """Record a therapy course."""
        with self.transaction(actor=actor) as s:
            return TherapyRecord.from_row(_add_therapy(s, patient_id, data))

    def save_assessment(
        self, patient_id: int, result: Mapping[str, Any], *, actor: str, version: str | None = None
    ) -> AssessmentRecord:
        """Store an assessment result (the ``resorb assess --json`` object)."""
        from resorb import __version__

        if not isinstance(result, Mapping):
            raise InvalidInputError("result", "is not an object", allowed="a JSON object")
        with self.transaction(actor=actor) as s:
            _patient(s, patient_id)
            row = m.Assessment(
                patient_id=patient_id,
                result=to_jsonable(dict(result)),
                version=version or __version__,
                created_by=s.info.get("actor_id"),
            )
            s.add(row)
            s.flush()
            return AssessmentRecord.from_row(row)

    def date_offset_days(self, patient_id: int, *, actor: str) -> int:
        """The patient's secret date offset, drawn on first use (for exports and DICOM)."""
        with self.transaction(actor=actor) as s:
            return _ensure_offset(s, patient_id)

    # -- reads (one read-only session each) --------------------------------------------

    def patient_records(self, patient_id: int) -> PatientRecords:
        """Everything recorded for a patient, read in one session.

        A page that shows the timeline and assesses the patient reads once and
        passes the records to :func:`timeline_of` and :func:`case_of` (what
        :meth:`patient_timeline` and :meth:`case_from_registry` do).
        """
        with self.reading() as s:
            return load_patient(s, patient_id)

    def list_assessments(self, patient_id: int) -> list[AssessmentRecord]:
        """A patient's stored assessments, oldest first."""
        with self.reading() as s:
            _patient(s, patient_id)
            q = (
                select(m.Assessment)
                .where(m.Assessment.patient_id == patient_id)
                .order_by(m.Assessment.id)
            )
            return [AssessmentRecord.from_row(a) for a in s.scalars(q)]

    def list_visits(self, patient_id: int) -> list[VisitRecord]:
        """A patient's visits in date order."""
        with self.reading() as s:
            return [VisitRecord.from_row(v) for v in _patient(s, patient_id).visits]

    def list_mri(self, patient_id: int) -> list[MRIRecord]:
        """MRI studies on the clinic's calendar, oldest first."""
        with self.reading() as s:
            p = _patient(s, patient_id)
            off = _offset(s, patient_id)
            rows = [MRIRecord.from_row(r, offset_days=off) for r in p.mri_studies]
            return sorted(rows, key=lambda r: (r.date, r.id))

    def list_findings(self, patient_id: int) -> list[FindingsRecord]:
        """A patient's findings in the order they were recorded."""
        with self.reading() as s:
            return [FindingsRecord.from_row(f) for f in _patient(s, patient_id).findings]

    def list_therapies(self, patient_id: int) -> list[TherapyRecord]:
        """A patient's therapy courses by start date."""
        with self.reading() as s:
            return [TherapyRecord.from_row(t) for t in _patient(s, patient_id).therapies]

    def audit_log(
        self, *, table: str | None = None, row_id: int | str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Audit entries, newest last."""
        q = select(m.AuditLog).order_by(m.AuditLog.id)
        if table:
            q = q.where(m.AuditLog.table_name == table)
        if row_id is not None:
            q = q.where(m.AuditLog.row_id == str(row_id))
        with self.reading() as s:
            return [
                {
                    "id": a.id,
                    "at": a.at,
                    "actor": a.actor,
                    "user_id": a.user_id,
                    "action": a.action,
                    "table": a.table_name,
                    "row_id": a.row_id,
                    "diff": a.diff,
                }
                for a in s.scalars(q.limit(limit))
            ]

    def patient_timeline(self, patient_id: int) -> dict[str, Any]:
        """Everything about a patient in date order, with resorption and MCID flags.

        See :func:`resorb.registry.timeline_of` for the keys.
        """
        return timeline_of(self.patient_records(patient_id))

    def case_from_registry(self, patient_id: int, *, visit: str = "latest") -> Case:
        """Build a :class:`resorb.domain.Case` from a registry record.

        See :func:`resorb.registry.case_of` for which findings, studies, visit
        and red flags go into it.
        """
        return case_of(self.patient_records(patient_id), visit=visit)

    # -- the research view ---------------------------------------------------------------

    def _draw_missing_offsets(self, patient_ids: list[int], *, actor: str) -> None:
        """Draw the secret date offset of each patient that has none yet (a short write)."""
        if patient_ids:
            with self.transaction(actor=actor) as s:
                for pid in patient_ids:
                    _ensure_offset(s, pid)

    def pseudonymised_view(
        self,
        *,
        actor: str,
        min_site_count: int = 5,
        limit: int | None = None,
        offset: int = 0,
        search: str | None = None,
    ) -> list[dict[str, Any]]:
        """The registry as a researcher may see it (all of it, or one page).

        No free-text notes, no database ids, no DICOM series details, birth year
        only, every date shifted by the patient's secret offset (intervals
        kept), and ``site`` only where at least ``min_site_count`` patients
        share it (a rarer site could single a patient out). With ``limit``,
        only the patients ``offset`` to ``offset + limit`` (by id) whose
        pseudonym contains ``search`` are read. Read in one read-only session;
        offsets not drawn yet are drawn first, in a short transaction of their
        own (so a page view writes only the first time a patient is shown).
        """
        if limit is not None and not 1 <= limit <= 1000:
            raise InvalidInputError("limit", f"{limit}", allowed="1-1000")
        if not 0 <= offset <= 2**62:
            raise InvalidInputError("offset", f"{offset}", allowed=">= 0")
        with self.reading() as s:
            page = select(m.Patient.id).order_by(m.Patient.id)
            if search:
                page = page.where(_pseudonym_like(search))
            if limit is not None:
                page = page.limit(limit).offset(offset)
            ids = select(page.subquery().c.id)
            missing = list(
                s.scalars(
                    select(m.Patient.id)
                    .where(m.Patient.id.in_(ids), ~m.Patient.id.in_(select(m.DateShift.patient_id)))
                    .order_by(m.Patient.id)
                )
            )
        self._draw_missing_offsets(missing, actor=actor)
        with self.reading() as s:
            return research_rows(
                s, min_site_count=min_site_count, limit=limit, offset=offset, search=search
            )

    def change_marker(self) -> int:
        """A number that changes whenever the registry's records change (the newest
        audit entry's id; every write is audited): a key for derived views."""
        with self.reading() as s:
            return int(s.scalar(select(func.max(m.AuditLog.id))) or 0)

    def research_count(self, *, search: str | None = None) -> int:
        """Number of patients in :meth:`pseudonymised_view` (matching ``search``)."""
        with self.reading() as s:
            return research_count(s, search=search)

    def pseudonymised_patient(
        self, pseudonym: str, *, actor: str, min_site_count: int = 5
    ) -> dict[str, Any] | None:
        """One patient of :meth:`pseudonymised_view` by pseudonym, or None.

        Reads only this patient (and the number of patients at their site).
        """
        with self.reading() as s:
            pid = s.scalar(select(m.Patient.id).where(m.Patient.pseudonym == pseudonym))
            if pid is None:
                return None
            drawn = _offset(s, pid) is not None
        if not drawn:
            self._draw_missing_offsets([pid], actor=actor)
        with self.reading() as s:
            p = _patient(s, pid)
            off = _offset(s, pid)
            assert off is not None  # drawn above
            keep = p.site is not None and site_count(s, p.site) >= min_site_count
            return research_row(p, off, keep_site=keep)
