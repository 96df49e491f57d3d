"""Login state kept in the registry database, shared by every web worker and instance.

Three small tables, written with SQLAlchemy Core (not the audited ORM session:
they change on every sign-in and hold no patient data):

- ``login_throttle``: failed sign-ins per key (an account, a source address,
  or the pair) with the time before which the next attempt is refused;
- ``login_sources``: the addresses each user has signed in from successfully
  (an attack on an account from elsewhere never slows these down);
- ``web_sessions``: server-side browser sessions (the cookie holds a random
  id; only its SHA-256 is stored), so sign-out and deactivation end them at once;
- ``revoked_tokens``: bearer tokens revoked before they expire.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Column, Float, Integer, String, Table, delete, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from resorb.registry._models import Base
from resorb.registry._records import UserRecord

__all__ = [
    "AuthState",
    "ThrottlePolicy",
    "login_sources",
    "login_throttle",
    "revoked_tokens",
    "web_sessions",
]

login_throttle = Table(
    "login_throttle",
    Base.metadata,
    Column("key", String(200), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_s", Float, nullable=False),
    Column("blocked_until_s", Float, nullable=False),
)
login_sources = Table(
    "login_sources",
    Base.metadata,
    Column("username", String(64), primary_key=True),
    Column("source", String(64), primary_key=True),
    Column("last_success_s", Float, nullable=False),
)
web_sessions = Table(
    "web_sessions",
    Base.metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("username", String(64), nullable=False, index=True),
    Column("created_s", Float, nullable=False),
    Column("seen_s", Float, nullable=False),
)
revoked_tokens = Table(
    "revoked_tokens",
    Base.metadata,
    Column("jti", String(64), primary_key=True),
    Column("expires_s", Float, nullable=False),
)


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """Progressive delay of one kind of key.

    The first ``free_failures`` failures within ``window_s`` cost nothing; each
    further one doubles the wait before the next attempt, from ``base_delay_s``
    up to ``max_delay_s``. A failure older than ``window_s`` is forgotten.
    """

    free_failures: int
    base_delay_s: float
    max_delay_s: float
    window_s: float

    def delay_s(self, failures: int) -> float:
        extra = failures - self.free_failures
        if extra <= 0:
            return 0.0
        return min(self.max_delay_s, self.base_delay_s * 2.0 ** min(extra - 1, 40))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthState:
    """Reads and writes the login tables of a registry engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _write(self) -> Connection:
        conn = self.engine.connect()
        return conn.execution_options(resorb_write=True)

    # -- throttle -------------------------------------------------------------------------

    def wait_s(self, keys: Iterable[str], *, now_s: float) -> float:
        """Seconds before an attempt under all ``keys`` is allowed (0: now)."""
        keys = list(keys)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(login_throttle.c.blocked_until_s).where(login_throttle.c.key.in_(keys))
            ).all()
        return max([0.0, *(r[0] - now_s for r in rows)])

    def failed(self, policies: dict[str, ThrottlePolicy], *, now_s: float) -> None:
        """Count one failure under each key with its policy (one transaction)."""
        for attempt in range(3):  # PostgreSQL: a concurrent first failure may insert first
            try:
                self._failed(policies, now_s=now_s)
                return
            except IntegrityError:
                if attempt == 2:
                    raise

    def _failed(self, policies: dict[str, ThrottlePolicy], *, now_s: float) -> None:
        keys = list(policies)
        with self._write() as conn, conn.begin():
            rows = {
                r[0]: (r[1], r[2])
                for r in conn.execute(
                    select(
                        login_throttle.c.key,
                        login_throttle.c.failures,
                        login_throttle.c.last_failure_s,
                    ).where(login_throttle.c.key.in_(keys))
                )
            }
            inserts = []
            for key, policy in policies.items():
                row = rows.get(key)
                failures = 1
                if row is not None and now_s - row[1] < policy.window_s:
                    failures = row[0] + 1
                values = {
                    "failures": failures,
                    "last_failure_s": now_s,
                    "blocked_until_s": now_s + policy.delay_s(failures),
                }
                if row is None:
                    inserts.append({"key": key, **values})
                else:
                    conn.execute(
                        update(login_throttle).where(login_throttle.c.key == key).values(**values)
                    )
            if inserts:
                conn.execute(insert(login_throttle), inserts)

    def clear(self, key: str) -> None:
        with self._write() as conn, conn.begin():
            conn.execute(delete(login_throttle).where(login_throttle.c.key == key))

    def sweep(
        self,
        *,
        now_s: float,
        older_than_s: float,
        session_idle_s: float | None = None,
        session_absolute_s: float | None = None,
    ) -> None:
        """Forget throttle entries, timed-out sessions and revocations nobody needs any
        more (a flood of made-up names leaves rows behind; this bounds the tables)."""
        with self._write() as conn, conn.begin():
            conn.execute(
                delete(login_throttle).where(
                    login_throttle.c.last_failure_s < now_s - older_than_s,
                    login_throttle.c.blocked_until_s < now_s,
                )
            )
            conn.execute(delete(revoked_tokens).where(revoked_tokens.c.expires_s < now_s))
            if session_idle_s is not None and session_absolute_s is not None:
                conn.execute(
                    delete(web_sessions).where(
                        (web_sessions.c.seen_s < now_s - session_idle_s)
                        | (web_sessions.c.created_s < now_s - session_absolute_s)
                    )
                )

    # -- one sign-in attempt ---------------------------------------------------------------

    def precheck(
        self,
        *,
        username: str | None,
        source: str,
        pair_key: str,
        source_key: str,
        account_key: str,
        now_s: float,
        known_max_age_s: float,
    ) -> tuple[float, UserRecord | None]:
        """Everything a sign-in reads before the password check, on one connection.

        Returns the wait before an attempt is allowed (0: now; the account key
        is skipped for a source the user signed in from within
        ``known_max_age_s``) and the active user record (None for an unknown,
        inactive or invalid name; ``username`` None skips the lookup).
        """
        from resorb.registry import _models as m

        with self.engine.connect() as conn:
            keys = [pair_key, source_key]
            if username is not None:
                seen = conn.execute(
                    select(login_sources.c.last_success_s).where(
                        login_sources.c.username == username, login_sources.c.source == source
                    )
                ).scalar()
                if seen is None or now_s - seen > known_max_age_s:
                    keys.append(account_key)
            else:
                keys.append(account_key)
            rows = conn.execute(
                select(login_throttle.c.blocked_until_s).where(login_throttle.c.key.in_(keys))
            ).all()
            wait = max([0.0, *(r[0] - now_s for r in rows)])
            if wait > 0 or username is None:
                return wait, None
            u = m.User.__table__.c
            row = conn.execute(
                select(u.id, u.username, u.role, u.active, u.created_at).where(
                    u.username == username
                )
            ).first()
        if row is None or not row.active:
            return 0.0, None
        return 0.0, UserRecord(
            id=row.id,
            username=row.username,
            role=row.role,
            active=bool(row.active),
            created_at=row.created_at,
        )

    def password_matches(self, username: str, password: str) -> bool:
        """argon2 check of ``password`` against the user's stored hash (which never
        leaves the registry layer)."""
        from resorb.registry import _models as m
        from resorb.registry._security import verify_password

        u = m.User.__table__.c
        with self.engine.connect() as conn:
            hashed = conn.execute(select(u.password_hash).where(u.username == username)).scalar()
        return hashed is not None and verify_password(hashed, password)

    def succeeded(self, *, pair_key: str, username: str, source: str, now_s: float) -> None:
        """A successful sign-in: the pair's failures go, the source becomes known."""
        for _ in range(2):  # a concurrent first sign-in may insert the same source row
            try:
                with self._write() as conn, conn.begin():
                    conn.execute(delete(login_throttle).where(login_throttle.c.key == pair_key))
                    done = conn.execute(
                        update(login_sources)
                        .where(
                            login_sources.c.username == username, login_sources.c.source == source
                        )
                        .values(last_success_s=now_s)
                    )
                    if done.rowcount == 0:
                        conn.execute(
                            insert(login_sources).values(
                                username=username, source=source, last_success_s=now_s
                            )
                        )
                return
            except IntegrityError:
                continue

    # -- known sources --------------------------------------------------------------------

    def is_known_source(
        self, username: str, source: str, *, now_s: float, max_age_s: float
    ) -> bool:
        with self.engine.connect() as conn:
            seen = conn.execute(
                select(login_sources.c.last_success_s).where(
                    login_sources.c.username == username, login_sources.c.source == source
                )
            ).scalar()
        return seen is not None and now_s - seen <= max_age_s

    def remember_source(self, username: str, source: str, *, now_s: float) -> None:
        for _ in range(2):  # a concurrent first sign-in may insert the same row
            try:
                with self._write() as conn, conn.begin():
                    done = conn.execute(
                        update(login_sources)
                        .where(
                            login_sources.c.username == username, login_sources.c.source == source
                        )
                        .values(last_success_s=now_s)
                    )
                    if done.rowcount == 0:
                        conn.execute(
                            insert(login_sources).values(
                                username=username, source=source, last_success_s=now_s
                            )
                        )
                return
            except IntegrityError:
                continue

    # -- sessions -------------------------------------------------------------------------

    def create_session(self, username: str, *, now_s: float) -> str:
        """A new session for ``username``; returns its secret id (for the cookie)."""
        sid = secrets.token_urlsafe(32)
        with self._write() as conn, conn.begin():
            conn.execute(
                insert(web_sessions).values(
                    id_hash=_hash(sid), username=username, created_s=now_s, seen_s=now_s
                )
            )
        return sid

    def session_user(
        self,
        sid: str,
        *,
        now_s: float,
        idle_s: float,
        absolute_s: float,
        touch_every_s: float = 60.0,
    ) -> str | None:
        """The user of a live session, or None (unknown, ended or timed out: then removed)."""
        key = _hash(sid)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    web_sessions.c.username, web_sessions.c.created_s, web_sessions.c.seen_s
                ).where(web_sessions.c.id_hash == key)
            ).first()
        if row is None:
            return None
        username, created_s, seen_s = row
        if now_s - seen_s > idle_s or now_s - created_s > absolute_s:
            self.end_session(sid)
            return None
        if now_s - seen_s >= touch_every_s:  # the idle clock, without a write per request
            with self._write() as conn, conn.begin():
                conn.execute(
                    update(web_sessions).where(web_sessions.c.id_hash == key).values(seen_s=now_s)
                )
        return username

    def end_session(self, sid: str) -> None:
        with self._write() as conn, conn.begin():
            conn.execute(delete(web_sessions).where(web_sessions.c.id_hash == _hash(sid)))

    def end_sessions_of(self, username: str) -> int:
        """End every session of a user (deactivation, password change); returns how many."""
        with self._write() as conn, conn.begin():
            return conn.execute(
                delete(web_sessions).where(web_sessions.c.username == username)
            ).rowcount

    # -- bearer tokens --------------------------------------------------------------------

    def revoke_token(self, jti: str, *, expires_s: float) -> None:
        try:
            with self._write() as conn, conn.begin():
                conn.execute(insert(revoked_tokens).values(jti=jti, expires_s=expires_s))
        except IntegrityError:
            pass  # revoked already

    def token_revoked(self, jti: str) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    select(revoked_tokens.c.jti).where(revoked_tokens.c.jti == jti)
                ).first()
                is not None
            )
