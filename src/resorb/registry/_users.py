"""User accounts of the registry: create, authenticate, list, deactivate, change passwords.

A part of :class:`~resorb.registry.Registry` (which inherits it); every write
is one transaction with its audit entry, like the registry's other writes.
"""

from __future__ import annotations

import secrets
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from sqlalchemy import select

from resorb.errors import InvalidInputError
from resorb.registry import _models as m
from resorb.registry._authstate import AuthState
from resorb.registry._records import UserRecord
from resorb.registry._rows import RecordNotFoundError
from resorb.registry._security import (
    check_password_policy,
    check_username,
    hash_password,
    verify_password,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

__all__ = ["UserAccounts"]


class UserAccounts:
    """The user-account methods of :class:`~resorb.registry.Registry`."""

    if TYPE_CHECKING:  # provided by Registry
        engine: Engine

        def transaction(self, *, actor: str) -> AbstractContextManager[Session]: ...

        def reading(self) -> AbstractContextManager[Session]: ...

    def add_user(
        self, username: str, password: str, *, role: str = "clinician", actor: str | None = None
    ) -> UserRecord:
        """Create a user with an argon2 password hash.

        Raises
        ------
        InvalidInputError
            ``username`` taken or malformed, ``role`` unknown, password too short.
        """
        username = check_username(
            (username or "").strip() if isinstance(username, str) else username
        )
        if role not in m.ROLES:
            raise InvalidInputError("role", f"{role!r} is not a role", allowed=", ".join(m.ROLES))
        check_password_policy(password)
        with self.transaction(actor=actor or username) as s:
            if s.scalar(select(m.User.id).where(m.User.username == username)) is not None:
                raise InvalidInputError(
                    "username", f"{username!r} already exists", allowed="a user name not yet taken"
                )
            user = m.User(
                username=username, password_hash=hash_password(password), role=role, active=True
            )
            s.add(user)
            s.flush()
            return UserRecord.from_row(user)

    def authenticate(self, username: str, password: str) -> UserRecord | None:
        """The active user with this name and password, or None."""
        with self.reading() as s:
            user = s.scalar(select(m.User).where(m.User.username == username))
            if user is None or not user.active:
                # Spend the same time as a real check so timing does not reveal names.
                verify_password(_DUMMY_HASH(), password or "")
                return None
            if not verify_password(user.password_hash, password or ""):
                return None
            return UserRecord.from_row(user)

    def get_user(self, username: str) -> UserRecord | None:
        """The user with this name, or None."""
        with self.reading() as s:
            user = s.scalar(select(m.User).where(m.User.username == username))
            return None if user is None else UserRecord.from_row(user)

    def list_users(self) -> list[UserRecord]:
        """All users by name."""
        with self.reading() as s:
            return [
                UserRecord.from_row(u) for u in s.scalars(select(m.User).order_by(m.User.username))
            ]

    def set_user_active(self, username: str, active: bool, *, actor: str) -> UserRecord:
        """Activate or deactivate a user (users are never deleted: the audit log names them)."""
        with self.transaction(actor=actor) as s:
            user = s.scalar(select(m.User).where(m.User.username == username))
            if user is None:
                raise RecordNotFoundError("username", f"no user {username!r}")
            user.active = bool(active)
            s.flush()
            record = UserRecord.from_row(user)
        if not active:  # a deactivated user is signed out everywhere at once
            AuthState(self.engine).end_sessions_of(username)
        return record

    def set_user_password(self, username: str, password: str, *, actor: str) -> UserRecord:
        """Replace a user's password (argon2 hash; the audit entry shows it redacted)."""
        check_password_policy(password)
        with self.transaction(actor=actor) as s:
            user = s.scalar(select(m.User).where(m.User.username == username))
            if user is None:
                raise RecordNotFoundError("username", f"no user {username!r}")
            user.password_hash = hash_password(password)
            s.flush()
            record = UserRecord.from_row(user)
        # A new password ends the sessions opened with the old one.
        AuthState(self.engine).end_sessions_of(username)
        return record


_dummy: list[str] = []


def _DUMMY_HASH() -> str:  # noqa: N802 - a lazily computed constant
    if not _dummy:
        _dummy.append(hash_password(secrets.token_urlsafe(16)))
    return _dummy[0]
