"""A recurrence (symptoms back after recovery or after resorption) is recordable at a
visit (migration 0004_visit_recurrence on 0003_registry_keys), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from resorb.errors import InvalidInputError
from resorb.registry._migrate import current_revision, head_revision


def test_visit_with_symptoms_back_after_resorption_records_a_recurrence(
    registry, clinician, patient
):
    registry.add_visit(patient.id, {"date": "2026-03-01", "leg_pain_nrs": 1}, actor=clinician)
    registry.add_visit(
        patient.id, {"date": "2026-09-14", "leg_pain_nrs": 7, "recurrence": True}, actor=clinician
    )
    visits = registry.list_visits(patient.id)
    assert [v.recurrence for v in visits] == [None, True]
    assert visits[1].as_dict()["recurrence"] is True


def test_recurrence_must_be_yes_or_no(registry, clinician, patient):
    with pytest.raises(InvalidInputError) as err:
        registry.add_visit(
            patient.id, {"date": "2026-09-14", "recurrence": "maybe"}, actor=clinician
        )
    assert "recurrence" in str(err.value)


def test_the_recurrence_column_comes_from_the_single_migration_head(registry):
    assert current_revision(registry.engine) == head_revision() == "0004_visit_recurrence"
    columns = {c["name"]: c for c in inspect(registry.engine).get_columns("visits")}
    assert columns["recurrence"]["nullable"] is True


def test_recurrence_survives_csv_export_and_import(registry, clinician, patient, tmp_path):
    from resorb.registry import Registry
    from resorb.registry._csv import export_csv, import_csv

    registry.add_visit(patient.id, {"date": "2026-03-01", "leg_pain_nrs": 1}, actor=clinician)
    registry.add_visit(patient.id, {"date": "2026-09-14", "recurrence": True}, actor=clinician)
    registry.add_visit(patient.id, {"date": "2026-10-14", "recurrence": False}, actor=clinician)
    export_csv(registry, tmp_path / "a")
    header = (tmp_path / "a" / "visits.csv").read_text().splitlines()[0]
    assert header.split(",")[-2:] == ["recurrence", "notes"]
    other = Registry(f"sqlite:///{tmp_path / 'copy.db'}")
    try:
        other.upgrade()
        import_csv(other, tmp_path / "a", actor="importer")
        q = other.find_patient("LDH-0001")
        assert [v.recurrence for v in other.list_visits(q.id)] == [None, True, False]
    finally:
        other.close()


def test_csv_recurrence_that_is_not_yes_or_no_names_file_row_and_column(registry, tmp_path):
    from resorb.registry._csv import import_csv

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "patients.csv").write_text("pseudonym,birth_year,sex\nIMP-1,1980,female\n")
    (folder / "visits.csv").write_text("pseudonym,date,recurrence\nIMP-1,2026-02-01,perhaps\n")
    with pytest.raises(InvalidInputError) as err:
        import_csv(registry, folder, actor="importer")
    assert err.value.field == "visits.csv:2.recurrence"
