"""The registry's public API is pinned: the web app and scripts are built on these names."""

from __future__ import annotations

import inspect

import resorb.registry as registry


def test_public_names_are_pinned():
    assert sorted(registry.__all__) == sorted(
        [
            "CSV_COLUMNS",
            "DATE_SHIFT_RANGE_DAYS",
            "DEFAULT_URL",
            "MIN_PASSWORD_LENGTH",
            "ROLES",
            "RED_FLAG_CARRY_DAYS",
            "AssessmentRecord",
            "AuthState",
            "FindingsIn",
            "FindingsRecord",
            "MRIIn",
            "MRIRecord",
            "PatientIn",
            "PatientRecord",
            "PatientRecords",
            "PatientUpdate",
            "RecordNotFoundError",
            "Registry",
            "TherapyIn",
            "TherapyRecord",
            "ThrottlePolicy",
            "UserRecord",
            "VisitIn",
            "VisitRecord",
            "check_password_policy",
            "case_of",
            "export_csv",
            "export_pseudonymised_csv",
            "hash_password",
            "import_csv",
            "import_dicom",
            "resorption_between",
            "seed_demo",
            "timeline_of",
            "verify_password",
        ]
    )
    for name in registry.__all__:
        assert hasattr(registry, name), name


def test_registry_methods_and_keyword_only_actor():
    methods = {
        "add_user",
        "authenticate",
        "get_user",
        "list_users",
        "set_user_active",
        "set_user_password",
        "create_patient",
        "get_patient",
        "find_patient",
        "list_patients",
        "count_patients",
        "update_patient",
        "delete_patient",
        "add_visit",
        "delete_visit",
        "add_mri",
        "delete_mri",
        "add_findings",
        "add_therapy",
        "save_assessment",
        "list_assessments",
        "list_visits",
        "list_mri",
        "list_findings",
        "list_therapies",
        "audit_log",
        "patient_timeline",
        "case_from_registry",
        "date_offset_days",
        "pseudonymised_view",
        "patient_records",
        "pseudonymised_patient",
        "transaction",
        "reading",
        "upgrade",
        "close",
    }
    assert methods <= set(dir(registry.Registry))
    for name in methods:
        params = inspect.signature(getattr(registry.Registry, name)).parameters
        if "actor" in params and name != "add_user":
            assert params["actor"].kind is inspect.Parameter.KEYWORD_ONLY, name


def test_registry_is_a_context_manager_and_hides_the_password(tmp_path):
    with registry.Registry(f"sqlite:///{tmp_path / 'x.db'}") as reg:
        reg.upgrade()
        assert reg.count_patients() == 0
    pg = registry.Registry("postgresql+psycopg://u:topsecret@127.0.0.1:1/db")
    assert "topsecret" not in repr(pg) and "topsecret" not in pg.url
    pg.close()
