"""Audit trail: every created, updated or deleted row is logged with the acting user.

The log is written by session events inside the same transaction as the change,
so a change that rolls back takes its audit entry with it, and a change cannot
be committed without one. A session that writes must carry its actor in
``session.info["actor"]`` (the :class:`~resorb.registry.Registry` does this).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session

from resorb._json import to_jsonable
from resorb.registry._models import AuditLog, Base

__all__ = ["AuditActorMissing", "install_audit"]

_REDACTED = "<redacted>"


class AuditActorMissing(RuntimeError):
    """A write was attempted on a session with no acting user."""


def _row_values(obj: Base) -> dict[str, Any]:
    mapper = inspect(obj).mapper
    redact = type(obj).__audit_redact__
    out: dict[str, Any] = {}
    for col in mapper.column_attrs:
        value = getattr(obj, col.key)
        out[col.key] = _REDACTED if col.key in redact and value is not None else to_jsonable(value)
    return out


def _row_id(obj: Base) -> str:
    identity = inspect(obj).identity
    if identity is None:
        pk = inspect(obj).mapper.primary_key_from_instance(obj)
        identity = tuple(pk)
    return ",".join(str(v) for v in identity)


def _changes(obj: Base) -> dict[str, Any]:
    state = inspect(obj)
    redact = type(obj).__audit_redact__
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for col in state.mapper.column_attrs:
        hist = state.attrs[col.key].history
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if old == new:
            continue
        if col.key in redact:
            old, new = _REDACTED, _REDACTED
        before[col.key] = to_jsonable(old)
        after[col.key] = to_jsonable(new)
    return {"before": before, "after": after} if after or before else {}


def _actor(session: Session) -> tuple[str, int | None]:
    actor = session.info.get("actor")
    if not actor:
        raise AuditActorMissing("registry writes need an acting user (session.info['actor'])")
    return str(actor), session.info.get("actor_id")


def _before_flush(session: Session, flush_context, instances) -> None:
    pending = session.info.setdefault("_audit_pending", [])
    for obj in list(session.dirty):
        if isinstance(obj, AuditLog) or not isinstance(obj, Base):
            continue
        if not session.is_modified(obj, include_collections=False):
            continue
        diff = _changes(obj)
        if diff:
            _actor(session)
            pending.append(("update", obj.__tablename__, _row_id(obj), diff))
    for obj in list(session.deleted):
        if isinstance(obj, AuditLog) or not isinstance(obj, Base):
            continue
        _actor(session)
        pending.append(
            ("delete", obj.__tablename__, _row_id(obj), {"before": _row_values(obj), "after": None})
        )
    session.info["_audit_new"] = [
        o for o in session.new if isinstance(o, Base) and not isinstance(o, AuditLog)
    ]
    if session.info["_audit_new"]:
        _actor(session)


def _after_flush(session: Session, flush_context) -> None:
    entries = session.info.pop("_audit_pending", [])
    for obj in session.info.pop("_audit_new", []):
        entries.append(
            ("create", obj.__tablename__, _row_id(obj), {"before": None, "after": _row_values(obj)})
        )
    if not entries:
        return
    actor, actor_id = _actor(session)
    now = dt.datetime.now(dt.UTC)
    session.connection().execute(
        insert(AuditLog.__table__),
        [
            {
                "at": now,
                "actor": actor,
                "user_id": actor_id,
                "action": action,
                "table_name": table,
                "row_id": row_id,
                "diff": diff,
            }
            for action, table, row_id, diff in entries
        ],
    )


def _after_rollback(session: Session) -> None:
    session.info.pop("_audit_pending", None)
    session.info.pop("_audit_new", None)


def install_audit(session_factory) -> None:
    """Attach the audit listeners to a ``sessionmaker`` (or Session class)."""
    event.listen(session_factory, "before_flush", _before_flush)
    event.listen(session_factory, "after_flush", _after_flush)
    event.listen(session_factory, "after_soft_rollback", lambda s, prev: _after_rollback(s))
