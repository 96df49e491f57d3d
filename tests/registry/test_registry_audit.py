"""Audit trail and all-or-nothing writes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from resorb.errors import InvalidInputError
from resorb.registry import _models as m
from resorb.registry._audit import AuditActorMissing
from resorb.registry._rows import _create_patient


def _counts(registry) -> dict[str, int]:
    with registry.reading() as s:
        return {
            t: s.scalar(select(func.count()).select_from(model))
            for t, model in {
                "patients": m.Patient,
                "visits": m.Visit,
                "mri": m.MRIStudy,
                "audit": m.AuditLog,
            }.items()
        }


def test_every_change_is_audited_with_the_acting_user(registry, clinician, patient):
    user_id = registry.get_user(clinician).id
    created = registry.audit_log(table="patients", row_id=patient.id)
    assert [(a["action"], a["actor"], a["user_id"]) for a in created] == [
        ("create", clinician, user_id)
    ]
    assert created[0]["diff"]["before"] is None
    assert created[0]["diff"]["after"]["pseudonym"] == "LDH-0001"
    registry.update_patient(patient.id, {"birth_year": 1982}, actor=clinician)
    upd = registry.audit_log(table="patients", row_id=patient.id)[-1]
    assert upd["action"] == "update"
    assert upd["diff"] == {"before": {"birth_year": 1981}, "after": {"birth_year": 1982}}
    v = registry.add_visit(
        patient.id, {"date": "2026-03-01", "leg_pain_nrs": 4}, actor="someone-else"
    )
    entry = registry.audit_log(table="visits", row_id=v.id)[0]
    assert (entry["actor"], entry["user_id"]) == ("someone-else", None)
    registry.delete_visit(v.id, actor=clinician)
    gone = registry.audit_log(table="visits", row_id=v.id)[-1]
    assert gone["action"] == "delete" and gone["diff"]["after"] is None
    assert gone["diff"]["before"]["leg_pain_nrs"] == 4


def test_the_date_offset_is_never_written_to_the_audit_log(registry, clinician, patient):
    offset = registry.date_offset_days(patient.id, actor=clinician)
    entries = registry.audit_log(table="date_shifts")
    assert entries and entries[0]["diff"]["after"]["offset_days"] == "<redacted>"
    assert str(offset) not in repr([e["diff"] for e in entries])


def test_writes_without_an_acting_user_are_refused(registry):
    with pytest.raises(InvalidInputError, match="actor"):
        registry.create_patient({"pseudonym": "A", "birth_year": 1990, "sex": "male"}, actor="")
    with registry.reading() as s, pytest.raises(AuditActorMissing):
        s.add(m.Patient(pseudonym="B", birth_year=1990, sex="male"))
        s.flush()
    assert _counts(registry)["patients"] == 0


def test_a_constraint_violation_mid_transaction_rolls_back_rows_and_audit(
    registry, clinician, patient
):
    """The patient and its audit entry are written first; the CHECK on the MRI volume then
    fails inside the database. Nothing of the transaction may remain."""
    before = _counts(registry)
    with (
        pytest.raises(InvalidInputError, match="constraint"),
        registry.transaction(actor=clinician) as s,
    ):
        p = _create_patient(s, {"pseudonym": "ROLLBACK-1", "birth_year": 1970, "sex": "male"})
        s.add(
            m.MRIStudy(patient_id=p.id, date=patient.onset_date, source="manual", volume_mm3=-5.0)
        )
        s.flush()
    assert _counts(registry) == before
    assert registry.find_patient("ROLLBACK-1") is None


def test_a_duplicate_key_from_the_database_rolls_back(registry, clinician, patient):
    """Bypass the service's own duplicate check: the UNIQUE constraint catches it."""
    before = _counts(registry)
    with (
        pytest.raises(InvalidInputError, match="pseudonym"),
        registry.transaction(actor=clinician) as s,
    ):
        s.add(m.Patient(pseudonym="FIRST", birth_year=1970, sex="male"))
        s.flush()
        s.add(m.Patient(pseudonym="LDH-0001", birth_year=1970, sex="male"))
        s.flush()
    assert _counts(registry) == before


def test_a_failed_validation_leaves_the_registry_as_it_was(registry, clinician, patient):
    before = _counts(registry)
    with pytest.raises(InvalidInputError):
        registry.add_visit(patient.id, {"date": "2026-03-01", "leg_pain_nrs": 99}, actor=clinician)
    assert _counts(registry) == before


def test_concurrent_first_use_of_the_date_offset_agrees(registry, clinician, patient, backend):
    """Two transactions draw the patient's offset at once: the second waits on the first's
    uncommitted row, hits the primary key and must adopt the committed offset."""
    import threading
    import time

    from resorb.registry._rows import _ensure_offset

    if backend != "postgres":
        pytest.skip("SQLite serialises writers, so the two draws cannot overlap")
    drawn: dict[str, int] = {}
    a_inserted = threading.Event()

    def first():
        with registry.transaction(actor=clinician) as s:
            drawn["a"] = _ensure_offset(s, patient.id)
            a_inserted.set()
            time.sleep(0.8)  # keep the row uncommitted while the second draws

    def second():
        a_inserted.wait(10)
        with registry.transaction(actor=clinician) as s:
            drawn["b"] = _ensure_offset(s, patient.id)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert drawn["a"] == drawn["b"] == registry.date_offset_days(patient.id, actor=clinician)
