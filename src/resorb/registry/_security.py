"""Password hashing for registry users (argon2id via argon2-cffi).

Passwords are never stored or logged; only the PHC-format argon2 hash is.
"""

from __future__ import annotations

import re

from resorb.errors import InvalidInputError, require_extra

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "USERNAME_PATTERN",
    "check_password_policy",
    "check_username",
    "hash_password",
    "needs_rehash",
    "verify_password",
]

#: User names: 1-64 lower-case ASCII letters, digits, '.', '_' or '-', starting
#: with a letter or digit, no '..'. No '/', spaces, control or invisible
#: characters, and no look-alikes from other scripts: a name is safe in a URL
#: path, a log line and a terminal, and two users cannot look the same.
USERNAME_PATTERN = re.compile(r"(?!.*\.\.)[a-z0-9][a-z0-9._-]{0,63}")

#: Shortest password accepted (characters); an assumption of this project, after
#: NIST SP 800-63B section 5.1.1.2 (at least 8 characters for memorised secrets).
MIN_PASSWORD_LENGTH = 8


def _hasher():
    argon2 = require_extra("argon2", "web")
    return argon2.PasswordHasher()


def check_username(username: object, *, field: str = "username") -> str:
    """The user name if it is in the safe set (:data:`USERNAME_PATTERN`).

    Raises
    ------
    InvalidInputError
        Naming ``field``; the refused name is shown escaped (``ascii``), so an
        escape sequence in it cannot reach a terminal.
    """
    if not isinstance(username, str) or not USERNAME_PATTERN.fullmatch(username):
        shown = ascii(username)[:80]
        raise InvalidInputError(
            field,
            f"{shown} is not a valid user name",
            allowed="1-64 lower-case letters a-z, digits, '.', '_' or "
            "'-', starting with a letter or digit, no '..'",
        )
    return username


def check_password_policy(password: str, *, field: str = "password") -> None:
    """Refuse empty, blank or short passwords.

    Raises
    ------
    InvalidInputError
        Naming ``field`` and the minimum length.
    """
    if not isinstance(password, str) or not password.strip():
        raise InvalidInputError(
            field, "is empty", allowed=f"at least {MIN_PASSWORD_LENGTH} characters"
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(
            field,
            f"is too short ({len(password)} characters)",
            allowed=f"at least {MIN_PASSWORD_LENGTH} characters",
        )


def hash_password(password: str) -> str:
    """Hash ``password`` with argon2id (random salt); returns the PHC string.

    >>> h = hash_password("correct horse")
    >>> h.startswith("$argon2id$")
    True
    """
    check_password_policy(password)
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash``; never raises on a mismatch."""
    argon2 = require_extra("argon2", "web")
    try:
        return bool(_hasher().verify(password_hash, password))
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's defaults."""
    return _hasher().check_needs_rehash(password_hash)
