"""A recurrence (symptoms back after recovery or after resorption) is recordable at a
visit (migration 0004_visit_recurrence on 0003_registry_keys), on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect

from resorb.registry._migrate import current_revision, head_revision


def test_visit_with_symptoms_back_after_resorption_records_a_recurrence(registry, clinician,
                                                                       patient):
    registry.add_visit(patient.id, {"date": "2026-03-01", "leg_pain_nrs": 1}, actor=clinician)
    registry.add_visit(patient.id, {"date": "2026-09-14", "leg_pain_nrs": 7,
                                 "recurrence": True}, actor=clinician)
    visits = registry.list_visits(patient.id)
    assert [v.recurrence for v in visits] == [None, True]
    assert visits[1].as_dict()["recurrence"] is True


def test_recurrence_must_be_yes_or_no(registry, clinician, patient):
    import pytest

    from resorb.errors import InvalidInputError

    with pytest.raises(InvalidInputError) as err:
        registry.add_visit(patient.id, {"date": "2026-09-14", "recurrence": "maybe"},
                           actor=clinician)
    assert "recurrence" in str(err.value)


def test_the_recurrence_column_comes_from_the_single_migration_head(registry):
    assert current_revision(registry.engine) == head_revision() == "0004_visit_recurrence"
    columns = {c["name"]: c for c in inspect(registry.engine).get_columns("visits")}
    assert columns["recurrence"]["nullable"] is True
