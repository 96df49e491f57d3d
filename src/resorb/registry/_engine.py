"""Opening the registry database: the SQLAlchemy engine for a URL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

from resorb.errors import InvalidInputError

__all__ = ["DEFAULT_URL", "SQLITE_BUSY_TIMEOUT_S", "make_engine", "sqlite_file"]

#: Default registry: an SQLite file in the working directory.
DEFAULT_URL = "sqlite:///./resorb.db"

_ALLOWED = "sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"


#: How long a SQLite writer waits for another writer (CLI import, second web
#: worker) before giving up. SQLite's busy handler retries the lock during this
#: time, so concurrent writes queue instead of failing with "database is locked".
SQLITE_BUSY_TIMEOUT_S = 30.0


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Transactions are begun explicitly (see _sqlite_begin), not by the driver,
    # so that writers can take the write lock at BEGIN and savepoints work.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    # WAL: readers never block the writer and the writer never blocks readers;
    # synchronous=FULL keeps every acknowledged commit across a power cut.
    # (An in-memory database answers "memory" and stays as it is.)
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    """BEGIN IMMEDIATE for writes: the write lock is taken (with the busy timeout)
    before anything is read, so two writers queue instead of one failing when it
    upgrades a read lock. Reads begin DEFERRED and never wait."""
    write = conn.get_execution_options().get("resorb_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///PATH`` URL; None for in-memory and server databases."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    rest = url[len(prefix) :].split("?", 1)[0]
    return None if rest in ("", ":memory:") else Path(rest)


def _create_private(path: Path) -> None:
    """Create a new SQLite file readable by its owner only (mode 0600).

    SQLite gives its -wal and -shm files the database file's permissions, so
    they are private too. An existing file is left as it is.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # e.g. a missing folder: SQLite reports it when connecting
    os.close(fd)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (SQLite with foreign keys on, or PostgreSQL via psycopg 3).

    SQLite runs in WAL mode with a busy timeout of :data:`SQLITE_BUSY_TIMEOUT_S`
    and writes begin with ``BEGIN IMMEDIATE``, so concurrent writers (the web
    app and a CLI import) wait for each other instead of failing. A new SQLite
    file is created with mode 0600. SQL parameters are never put into error
    messages or logs.

    Raises
    ------
    InvalidInputError
        ``db``: not a database URL, or no driver for it.
    """
    if not isinstance(url, str) or "://" not in url:
        raise InvalidInputError("db", f"{url!r} is not a database URL", allowed=_ALLOWED)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            from sqlalchemy.pool import StaticPool

            kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        else:
            kwargs = {
                "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S}
            }
            path = sqlite_file(url)
            if path is not None:
                _create_private(path)
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        # hide_parameters: an error or log line never carries row values (notes, dates).
        engine = create_engine(url, hide_parameters=True, **kwargs)
    except Exception as exc:  # malformed URL or missing driver
        raise InvalidInputError("db", f"cannot use {url!r}: {exc}", allowed=_ALLOWED) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine
