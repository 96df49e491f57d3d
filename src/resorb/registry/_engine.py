"""Opening the registry database: the SQLAlchemy engine for a URL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

from resorb.errors import InvalidInputError

__all__ = ["DEFAULT_URL", "make_engine"]

#: Default registry: an SQLite file in the working directory.
DEFAULT_URL = "sqlite:///./resorb.db"

_ALLOWED = "sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (SQLite with foreign keys on, or PostgreSQL via psycopg 3).

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
            kwargs = {"connect_args": {"check_same_thread": False}}
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    try:
        engine = create_engine(url, **kwargs)
    except Exception as exc:  # malformed URL or missing driver
        raise InvalidInputError("db", f"cannot use {url!r}: {exc}", allowed=_ALLOWED) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine
