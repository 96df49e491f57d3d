"""Backup and restore of the whole registry (``resorb registry backup|restore``).

A backup holds every table: patients, visits, MRI studies, findings, therapy
courses, stored assessments, users (with their password hashes), the secret
per-patient date offsets, the audit log and the schema revision. It is made
with the database's own tools, never by re-reading rows:

- SQLite: the online backup API (:meth:`sqlite3.Connection.backup`), a
  consistent copy taken while the web app keeps running;
- PostgreSQL: ``pg_dump --format=custom`` (Debian package ``postgresql-client``),
  restored with ``pg_restore``.

A backup file is as sensitive as the registry: it is written with mode 0600.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import make_url

from resorb.errors import InvalidInputError, ResorbError
from resorb.registry import _models as m
from resorb.registry._engine import SQLITE_BUSY_TIMEOUT_S, sqlite_file

__all__ = ["BackupError", "backup_registry", "registry_counts", "restore_registry"]

_SQLITE_MAGIC = b"SQLite format 3\x00"
_PGDUMP_MAGIC = b"PGDMP"
#: Longest a pg_dump or pg_restore may run (seconds); a software limit.
PG_TOOL_TIMEOUT_S = 3600

_COUNTED = {
    "patients": m.Patient,
    "visits": m.Visit,
    "mri_studies": m.MRIStudy,
    "findings": m.Findings,
    "therapy_courses": m.TherapyCourse,
    "assessments": m.Assessment,
    "users": m.User,
    "date_shifts": m.DateShift,
    "audit_log": m.AuditLog,
}


class BackupError(ResorbError, RuntimeError):
    """A backup or restore that could not be completed (the message says why)."""


def registry_counts(registry) -> dict[str, int]:
    """Rows per table of an open registry (what a backup must carry over)."""
    tables = set(inspect(registry.engine).get_table_names())
    with registry.reading() as s:
        return {
            name: int(s.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in _COUNTED.items()
            if model.__tablename__ in tables
        }


def _private_file(path: Path) -> None:
    """Create (or truncate) ``path`` with mode 0600 before anything is written to it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    """libpq connection options and environment for ``url`` (password via the
    environment, never on the command line where ``ps`` would show it)."""
    u = make_url(url)
    args = [
        "--host",
        u.host or "localhost",
        "--port",
        str(u.port or 5432),
        "--username",
        u.username or os.environ.get("USER", "postgres"),
        "--dbname",
        u.database or "",
    ]
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = unquote(str(u.password))
    return args, env


def _pg_tool(name: str) -> str:
    tool = shutil.which(name)
    if tool is None:
        raise BackupError(
            f"{name} is not installed: install the PostgreSQL client tools "
            "(Debian package postgresql-client) to back up or restore a "
            "PostgreSQL registry"
        )
    return tool


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    try:
        proc = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=PG_TOOL_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise BackupError(f"{what} did not finish within {PG_TOOL_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[0]
        raise BackupError(f"{what} failed: {first}")


def backup_registry(registry, out: str | Path) -> dict[str, Any]:
    """Write a complete backup of ``registry`` to ``out``.

    Returns
    -------
    dict
        ``path``, ``format`` (``sqlite`` or ``pg_dump-custom``), ``bytes`` and
        ``counts`` (rows per table at the time of the backup).
    """
    out = Path(out)
    if out.exists() and out.is_dir():
        raise InvalidInputError("out", f"{out} is a folder", allowed="a file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    counts = registry_counts(registry)
    dialect = registry.engine.dialect.name
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        _private_file(tmp)
        if dialect == "sqlite":
            path = sqlite_file(registry.engine.url.render_as_string(hide_password=False))
            if path is None:
                raise InvalidInputError(
                    "db",
                    "an in-memory registry cannot be backed up",
                    allowed="a registry file (sqlite:///PATH) or PostgreSQL",
                )
            src = sqlite3.connect(str(path), timeout=SQLITE_BUSY_TIMEOUT_S)
            dst = sqlite3.connect(str(tmp))
            try:
                src.backup(dst)
                # A self-contained file: no WAL beside it.
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
                src.close()
            fmt = "sqlite"
        elif dialect == "postgresql":
            args, env = _pg_args(registry.engine.url.render_as_string(hide_password=False))
            _run(
                [
                    _pg_tool("pg_dump"),
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    "--file",
                    str(tmp),
                    *args,
                ],
                env,
                "pg_dump",
            )
            fmt = "pg_dump-custom"
        else:  # pragma: no cover - only SQLite and PostgreSQL are supported
            raise InvalidInputError(
                "db", f"{dialect} is not supported", allowed="SQLite, PostgreSQL"
            )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return {"path": str(out), "format": fmt, "bytes": out.stat().st_size, "counts": counts}


def _backup_format(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise InvalidInputError("backup", f"{path} cannot be read ({exc.strerror})") from None
    if head.startswith(_SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(_PGDUMP_MAGIC):
        return "pg_dump-custom"
    raise InvalidInputError(
        "backup",
        f"{path} is not a registry backup",
        allowed="a file written by `resorb registry backup`",
    )


def _check_sqlite_backup(path: Path) -> None:
    """Refuse a corrupt SQLite file or one that holds no registry."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        raise InvalidInputError("backup", f"{path} is not a readable SQLite file") from None
    if ok != "ok":
        raise InvalidInputError("backup", f"{path} fails SQLite's integrity check")
    if not {"alembic_version", "patients", "users"} <= tables:
        raise InvalidInputError(
            "backup",
            f"{path} holds no resorb registry",
            allowed="a file written by `resorb registry backup`",
        )


def restore_registry(registry, backup: str | Path, *, force: bool = False) -> dict[str, Any]:
    """Replace the contents of ``registry`` by the backup file ``backup``.

    Parameters
    ----------
    force : bool
        A registry that already holds patients or users is only overwritten
        with ``force=True``.

    Returns
    -------
    dict
        ``format`` and ``counts`` (rows per table after the restore).
    """
    path = Path(backup)
    if not path.is_file():
        raise InvalidInputError(
            "backup", f"{path} does not exist", allowed="a file written by `resorb registry backup`"
        )
    fmt = _backup_format(path)
    dialect = registry.engine.dialect.name
    want = {"sqlite": "sqlite", "postgresql": "pg_dump-custom"}.get(dialect)
    if fmt != want:
        raise InvalidInputError(
            "backup",
            f"is a {fmt} backup but the registry is {dialect}",
            allowed=f"a {want} backup of a {dialect} registry",
        )
    if not force and any(registry_counts(registry).get(t, 0) for t in ("patients", "users")):
        raise InvalidInputError(
            "db",
            f"{registry.url} is not empty",
            allowed="an empty registry, or --force to replace its contents",
        )
    if fmt == "sqlite":
        _check_sqlite_backup(path)
        target = sqlite_file(registry.engine.url.render_as_string(hide_password=False))
        if target is None:
            raise InvalidInputError(
                "db",
                "cannot restore into an in-memory registry",
                allowed="a registry file (sqlite:///PATH)",
            )
        registry.engine.dispose()  # no pooled connection keeps the old pages
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        dst = sqlite3.connect(str(target), timeout=SQLITE_BUSY_TIMEOUT_S)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")
        finally:
            dst.close()
            src.close()
    else:
        registry.engine.dispose()
        args, env = _pg_args(registry.engine.url.render_as_string(hide_password=False))
        _run(
            [
                _pg_tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                *args,
                str(path),
            ],
            env,
            "pg_restore",
        )
    return {"format": fmt, "counts": registry_counts(registry)}
