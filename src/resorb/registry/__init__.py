"""The follow-up registry: patients, visits, MRI, findings, therapies, assessments, audit.

SQLAlchemy 2 models with Alembic migrations shipped in the package; SQLite by
default (``sqlite:///./resorb.db``), PostgreSQL by URL
(``postgresql+psycopg://user:pw@host:port/db``), one schema for both.

Public API (stable; the web app and the CLI are built on it)::

    reg = Registry(url)                       # open (nothing is created)
    reg.upgrade()                             # create/migrate the schema
    reg.add_user(name, password, role=..., actor=...)      -> UserRecord
    reg.authenticate(name, password)          -> UserRecord | None
    reg.create_patient({...}, actor=...)      -> PatientRecord
    reg.get_patient(id) / find_patient(pseudonym) / list_patients(search=, limit=, offset=)
    reg.update_patient(id, {...}, actor=...) / delete_patient(id, actor=...)
    reg.add_visit(id, {...}, actor=...)       -> VisitRecord
    reg.add_mri(id, {...}, actor=...)         -> MRIRecord
    reg.add_findings(id, {...}, mri_id=|visit_id=, actor=...) -> FindingsRecord
    reg.add_therapy(id, {...}, actor=...)     -> TherapyRecord
    reg.save_assessment(id, result, actor=...) -> AssessmentRecord
    reg.patient_records(id)                   -> PatientRecords (one read)
    reg.patient_timeline(id)                  -> dict (resorption, grades, MCID flags)
    reg.case_from_registry(id)                -> resorb.domain.Case
    timeline_of(records) / case_of(records)   -> the same from records already read
    reg.pseudonymised_view(actor=...)         -> list[dict] for researchers
    reg.pseudonymised_patient(pseudonym, actor=...) -> dict | None (one patient)
    reg.audit_log(table=, row_id=)            -> list[dict]
    export_csv(reg, out_dir) / import_csv(reg, path, actor=...)
    export_pseudonymised_csv(reg, out_dir, actor=..., min_site_count=5)
    import_dicom(reg, path, patient_id=..., level=, label=, actor=..., store_dir=)
    seed_demo(reg, n_patients=20, seed=..., actor=...)

FHIR (R4B) and DICOM SR export of the same data: :mod:`resorb.interop.fhir`
(``registry_bundle(reg, patient_id)``) and :mod:`resorb.interop.sr`.

Input mappings are validated by the pydantic schemas (``PatientIn``,
``VisitIn``, ``MRIIn``, ``FindingsIn``, ``TherapyIn``) with the
:mod:`resorb.domain` scales; bad input raises
:class:`~resorb.errors.InvalidInputError` naming the field, missing rows
:class:`RecordNotFoundError`. Each write is one transaction with its audit
entries. Passwords: :func:`hash_password` / :func:`verify_password` (argon2id).
"""

from resorb._public import publish as _publish
from resorb.registry._authstate import AuthState, ThrottlePolicy
from resorb.registry._csv import CSV_COLUMNS, export_csv, export_pseudonymised_csv, import_csv
from resorb.registry._demo import seed_demo
from resorb.registry._dicom import import_dicom
from resorb.registry._engine import DEFAULT_URL
from resorb.registry._models import ROLES
from resorb.registry._records import (
    AssessmentRecord,
    FindingsRecord,
    MRIRecord,
    PatientRecord,
    TherapyRecord,
    UserRecord,
    VisitRecord,
)
from resorb.registry._rows import DATE_SHIFT_RANGE_DAYS, RecordNotFoundError
from resorb.registry._schemas import (
    FindingsIn,
    MRIIn,
    PatientIn,
    PatientUpdate,
    TherapyIn,
    VisitIn,
)
from resorb.registry._security import (
    MIN_PASSWORD_LENGTH,
    check_password_policy,
    hash_password,
    verify_password,
)
from resorb.registry._service import Registry
from resorb.registry._views import (
    RED_FLAG_CARRY_DAYS,
    PatientRecords,
    case_of,
    resorption_between,
    timeline_of,
)

__all__ = [
    "CSV_COLUMNS",
    "DATE_SHIFT_RANGE_DAYS",
    "DEFAULT_URL",
    "MIN_PASSWORD_LENGTH",
    "RED_FLAG_CARRY_DAYS",
    "ROLES",
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
    "case_of",
    "check_password_policy",
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

_publish(__name__, globals())
