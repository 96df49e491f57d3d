"""``resorb registry ...`` and ``resorb user ...``: the follow-up registry from the shell."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import typer

from resorb.cli._common import emit

__all__ = ["register"]

_DB_HELP = (
    "Database URL: sqlite:///PATH (default sqlite:///./resorb.db) or "
    "postgresql+psycopg://USER:PW@HOST:PORT/DB."
)


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # pragma: no cover - no login name in some containers
        return "cli"


def _open(db: str, *, require_schema: bool = True):
    """Open the registry; refuse one whose schema is missing or out of date."""
    from resorb.errors import InvalidInputError
    from resorb.registry import Registry
    from resorb.registry._migrate import current_revision, head_revision

    if require_schema and db.startswith("sqlite:///") and db != "sqlite:///:memory:":
        path = Path(db[len("sqlite:///") :])
        if not path.is_file():  # do not let SQLite create an empty file as a side effect
            raise InvalidInputError(
                "db",
                f"{path} does not exist",
                allowed=f"an existing registry, or create one with "
                f"`resorb registry init --db {db}`",
            )
    reg = Registry(db)
    try:
        current = current_revision(reg.engine)
    except Exception as exc:  # cannot connect, wrong credentials, missing database
        reg.close()
        first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
        raise InvalidInputError(
            "db",
            f"cannot open {reg.url}: {first}",
            allowed="a reachable SQLite file or PostgreSQL database",
        ) from None
    if require_schema:
        head = head_revision()
        if current != head:
            reg.close()
            state = "has no registry schema" if current is None else f"is at revision {current}"
            raise InvalidInputError(
                "db",
                f"{reg.url} {state}",
                allowed=f"run `resorb registry upgrade --db {db}` first (schema {head})",
            )
    return reg


def _patient_id(reg, patient: str) -> int:
    from resorb.registry import RecordNotFoundError

    if patient.isdigit():
        return int(patient)
    rec = reg.find_patient(patient)
    if rec is None:
        raise RecordNotFoundError("patient", f"no patient {patient!r}")
    return rec.id


def _write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder (creating the folder), so a
    failure leaves no half file and an older file as it was."""
    from resorb._atomic import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)


def register(app: typer.Typer) -> None:
    """Add the ``registry`` and ``user`` command groups to ``app``."""
    registry = typer.Typer(
        name="registry", help="The follow-up registry (SQLite or PostgreSQL).", no_args_is_help=True
    )
    user = typer.Typer(name="user", help="Registry users (for the web app).", no_args_is_help=True)
    app.add_typer(registry)
    app.add_typer(user)

    @registry.command("init")
    def init(
        db: str = typer.Option("sqlite:///./resorb.db", "--db", help=_DB_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Create a new, empty registry (refuses a database that already has one)."""
        from resorb.errors import InvalidInputError
        from resorb.registry._migrate import current_revision, head_revision

        with _open(db, require_schema=False) as reg:
            from sqlalchemy import inspect

            tables = inspect(reg.engine).get_table_names()
            if tables:
                rev = current_revision(reg.engine)
                raise InvalidInputError(
                    "db",
                    f"{reg.url} is not empty ({len(tables)} tables"
                    + (f", registry revision {rev})" if rev else ")"),
                    allowed="a new database; use `resorb registry upgrade` to migrate",
                )
            reg.upgrade()
            emit({"db": reg.url, "revision": head_revision(), "created": True}, as_json=as_json)

    @registry.command("upgrade")
    def upgrade(
        db: str = typer.Option("sqlite:///./resorb.db", "--db", help=_DB_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Create or migrate the registry schema to this version of resorb."""
        from resorb.registry._migrate import current_revision

        with _open(db, require_schema=False) as reg:
            before = current_revision(reg.engine)
            reg.upgrade()
            after = current_revision(reg.engine)
            emit({"db": reg.url, "revision_before": before, "revision": after}, as_json=as_json)

    @registry.command("import")
    def import_(
        path: Path = typer.Argument(
            ..., help="patients.csv, visits.csv, mri.csv, or a folder holding them."
        ),
        db: str = typer.Option("sqlite:///./resorb.db", "--db", help=_DB_HELP),
        actor: str = typer.Option(
            _default_actor(), "--actor", help="Acting user for the audit log."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Import patients, visits and MRI from CSV (all or nothing)."""
        from resorb.registry._csv import import_csv

        with _open(db) as reg:
            counts = import_csv(reg, path, actor=actor)
            emit({"imported": counts}, as_json=as_json)

    @registry.command("export")
    def export(
        db: str = typer.Option("sqlite:///./resorb.db", "--db", help=_DB_HELP),
        out: Path = typer.Option(..., "--out", help="Folder for the CSV files."),
        pseudonymised: bool = typer.Option(
            False,
            "--pseudonymised",
            help="Researcher's export: no notes, dates shifted per patient, rare sites blanked.",
        ),
        min_site_count: int = typer.Option(
            5,
            "--min-site-count",
            help="With --pseudonymised: sites shared by fewer patients are blanked.",
        ),
        actor: str = typer.Option(
            _default_actor(), "--actor", help="Acting user for the audit log."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Export patients, visits and MRI to CSV files in a folder."""
        from resorb.registry._csv import export_csv, export_pseudonymised_csv

        with _open(db) as reg:
            if pseudonymised:
                files = export_pseudonymised_csv(
                    reg, out, actor=actor, min_site_count=min_site_count
                )
            else:
                files = export_csv(reg, out)
            emit(
                {"files": {k: str(v) for k, v in files.items()}, "pseudonymised": pseudonymised},
                as_json=as_json,
            )

    @registry.command("backup")
    def backup(
        out: Path = typer.Argument(..., help="Backup file to write (mode 0600)."),
        db: str = typer.Option("sqlite:///./resorb.db", "--db", help=_DB_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Back up the whole registry: every table, users, date offsets and audit log
        (SQLite online backup; pg_dump custom format for PostgreSQL)."""
        from resorb.registry._backup import backup_registry

        with _open(db) as reg:
            emit(backup_registry(reg, out), as_json=as_json)

    @registry.command("restore")
    def restore(
        backup_file: Path = typer.Argument(..., help="A file written by `resorb registry backup`."),
        db: str = typer.Option("sqlite:///./resorb.db", "--db", help=_DB_HELP),
        force: bool = typer.Option(
            False, "--force", help="Replace a registry that already holds patients or users."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Restore the registry from a backup (into an empty registry unless --force)."""
        from resorb.registry._backup import restore_registry

        with _open(db, require_schema=False) as reg:
            emit(restore_registry(reg, backup_file, force=force), as_json=as_json)

    @registry.command("seed-demo")
    def seed_demo(
        db: str = typer.Option("sqlite:///./resorb.db", "--db", help=_DB_HELP),
        patients: int = typer.Option(20, "--patients", help="Number of patients."),
        seed: int = typer.Option(20260101, "--seed", help="Random seed."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Fill the registry with a synthetic demo cohort (no patient data)."""
        from resorb.registry._demo import seed_demo as _seed

        with _open(db) as reg:
            counts = _seed(reg, n_patients=patients, seed=seed)
            emit({"seeded": counts, "synthetic": True}, as_json=as_json)

    @registry.command("import-dicom")
    def import_dicom(
        path: Path = typer.Argument(
            ..., help="A DICOM SEG file, a DICOM file, or a folder holding one series."
        ),
        db: str = typer.Option("sqlite:///./resorb.db", "--db", help=_DB_HELP),
        patient: str = typer.Option(..., "--patient", help="Registry patient id or pseudonym."),
        level: str | None = typer.Option(
            None, "--level", help="Disc level of the herniation (L4-L5 ...)."
        ),
        label: int | None = typer.Option(None, "--label", help="SEG segment number to measure."),
        store: Path | None = typer.Option(
            None,
            "--store-deidentified",
            help="Also write the de-identified DICOM objects to this folder.",
        ),
        actor: str = typer.Option(
            _default_actor(), "--actor", help="Acting user for the audit log."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Import a DICOM SEG or series, de-identified after DICOM PS3.15 (Basic Profile)."""
        from resorb.registry._dicom import import_dicom as run

        with _open(db) as reg:
            pid = _patient_id(reg, patient)
            result = run(
                reg, path, patient_id=pid, level=level, label=label, actor=actor, store_dir=store
            )
            emit(result, as_json=as_json)

    @registry.command("export-fhir")
    def export_fhir(
        db: str = typer.Option("sqlite:///./resorb.db", "--db", help=_DB_HELP),
        patient: str = typer.Option(..., "--patient", help="Registry patient id or pseudonym."),
        out: Path = typer.Option(..., "--out", help="JSON file to write."),
        fhir_version: str = typer.Option(
            "R4B", "--fhir-version", help="R4B (R4-compatible) or R5."
        ),
        identity: str = typer.Option(
            "clinical",
            "--identity",
            help="clinical (the clinic's dates and the "
            "birth year) or deidentified (dates shifted by the patient's secret "
            "offset, no birth year, de-identified study UIDs).",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Write a patient's follow-up as a FHIR Bundle (Observations, DiagnosticReport)."""
        from resorb.interop.fhir import registry_bundle

        with _open(db) as reg:
            pid = _patient_id(reg, patient)
            bundle = registry_bundle(
                reg, pid, fhir_version=fhir_version, identity=identity, actor=_default_actor()
            )
            _write_atomic(out, bundle.model_dump_json(exclude_none=True, indent=2).encode())
            emit(
                {
                    "file": str(out),
                    "fhir_version": fhir_version,
                    "identity": identity,
                    "resources": len(bundle.entry or []),
                },
                as_json=as_json,
            )

    @registry.command("export-sr")
    def export_sr(
        seg: Path = typer.Argument(
            ..., help="The DICOM SEG the volume was measured on (de-identified copy)."
        ),
        db: str = typer.Option("sqlite:///./resorb.db", "--db", help=_DB_HELP),
        mri: int = typer.Option(..., "--mri", help="Registry MRI study id."),
        segment: int | None = typer.Option(
            None, "--segment", help="SEG segment number (default: the segment the import measured)."
        ),
        out: Path = typer.Option(..., "--out", help="DICOM SR file to write."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Write a DICOM SR (TID 1500) with the study's herniation volume, referencing the SEG."""
        import warnings

        import pydicom

        from resorb.errors import InvalidInputError
        from resorb.registry._dicom import volume_sr

        with _open(db) as reg:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # pydicom's warnings quote element values
                    ds = pydicom.dcmread(seg)
            except Exception:
                raise InvalidInputError(
                    "seg", "is not a readable DICOM file", allowed="a DICOM SEG"
                ) from None
            sr, info = volume_sr(reg, mri, ds, segment=segment, actor=_default_actor())
            import io

            buf = io.BytesIO()
            sr.save_as(buf)
            _write_atomic(out, buf.getvalue())
            emit(
                {
                    "file": str(out),
                    "volume_mm3": info["volume_mm3"],
                    "unit": "mm3",
                    "segment": info["segment"],
                    "tracking_uid": info["tracking_uid"],
                    "sop_instance_uid": str(sr.SOPInstanceUID),
                    "referenced_seg": str(ds.SOPInstanceUID),
                },
                as_json=as_json,
            )

    @user.command("add")
    def user_add(
        name: str = typer.Argument(..., help="User name."),
        db: str = typer.Option("sqlite:///./resorb.db", "--db", help=_DB_HELP),
        password_stdin: bool = typer.Option(
            False,
            "--password-stdin",
            help="Read the password from standard input "
            "(required: passwords are never taken from the command line).",
        ),
        role: str = typer.Option("clinician", "--role", help="clinician, researcher or admin."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Create a user whose password is read from stdin and stored as an argon2 hash."""
        from resorb.errors import InvalidInputError
        from resorb.registry import ROLES

        if not password_stdin:
            raise InvalidInputError(
                "--password-stdin",
                "is required",
                allowed="pipe the password on stdin with --password-stdin",
            )
        if role not in ROLES:
            raise InvalidInputError("role", f"{role!r} is not a role", allowed=", ".join(ROLES))
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password[:-1] if password.endswith("\r") else password
        with _open(db) as reg:
            rec = reg.add_user(name, password, role=role, actor=_default_actor())
            emit(
                {"id": rec.id, "username": rec.username, "role": rec.role, "active": rec.active},
                as_json=as_json,
            )
