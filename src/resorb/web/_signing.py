"""Signed session cookies, CSRF tokens and JWT bearer tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, replace

import jwt

__all__ = ["Session", "SessionCodec", "TokenCodec", "TokenError"]

_ROLES = frozenset({"clinician", "researcher", "admin"})


def _derive(secret: str, purpose: str) -> bytes:
    """A separate key per purpose, so a cookie can never pass as a token."""
    return hmac.new(secret.encode(), b"resorb-web:" + purpose.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    """Content of the session cookie.

    ``username`` is None before login (the anonymous session still carries a
    CSRF token for the login form). Times are seconds since the epoch.
    """

    csrf: str
    created_s: float
    seen_s: float
    username: str | None = None
    flash: str | None = None
    #: Id of the server-side session record of a signed-in user (see
    #: :class:`resorb.registry.AuthState`): the cookie alone never signs anyone in.
    sid: str | None = None

    @classmethod
    def new(cls, now_s: float, username: str | None = None, sid: str | None = None) -> Session:
        return cls(
            csrf=secrets.token_urlsafe(32),
            created_s=now_s,
            seen_s=now_s,
            username=username,
            sid=sid,
        )

    def touched(self, now_s: float) -> Session:
        return replace(self, seen_s=now_s)

    def expired(self, now_s: float, *, idle_s: float, absolute_s: float) -> bool:
        return now_s - self.seen_s > idle_s or now_s - self.created_s > absolute_s

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf.encode(), str(token).encode())


class SessionCodec:
    """HMAC-SHA256 signed, base64url JSON session cookie."""

    def __init__(self, secret: str) -> None:
        self._key = _derive(secret, "session")

    def dumps(self, session: Session) -> str:
        payload = _b64(
            json.dumps(
                {
                    "c": session.csrf,
                    "t0": session.created_s,
                    "t": session.seen_s,
                    "u": session.username,
                    "f": session.flash,
                    "s": session.sid,
                },
                separators=(",", ":"),
            ).encode()
        )
        sig = _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())
        return f"{payload}.{sig}"

    def loads(self, cookie: str | None) -> Session | None:
        """The session, or None when the cookie is missing, malformed or forged."""
        if not cookie or cookie.count(".") != 1:
            return None
        payload, sig = cookie.split(".")
        good = _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(good.encode(), sig.encode()):
            return None
        try:
            data = json.loads(_unb64(payload))
            return Session(
                csrf=str(data["c"]),
                created_s=float(data["t0"]),
                seen_s=float(data["t"]),
                username=data.get("u"),
                flash=data.get("f"),
                sid=data.get("s"),
            )
        except (ValueError, KeyError, TypeError):
            return None


class TokenError(Exception):
    """A bearer token that is missing, forged, malformed or expired."""


class TokenCodec:
    """JWT bearer tokens: HS256, claims ``sub``, ``role``, ``iat``, ``exp``, ``jti``.

    Time claims are checked against the app's own clock (injectable in tests),
    so PyJWT's wall-clock checks are switched off and done here instead.
    """

    algorithm = "HS256"

    def __init__(self, secret: str, *, ttl_s: float) -> None:
        self._key = _derive(secret, "jwt")
        self.ttl_s = ttl_s

    def issue(self, username: str, role: str, *, now_s: float) -> str:
        iat = int(now_s)
        claims = {
            "sub": username,
            "role": role,
            "iat": iat,
            "exp": iat + int(self.ttl_s),
            "jti": secrets.token_urlsafe(16),
            "iss": "resorb",
        }
        return jwt.encode(claims, self._key, algorithm=self.algorithm)

    def verify(self, token: str, *, now_s: float) -> dict:
        """Claims of a valid token; raises :class:`TokenError` otherwise."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self.algorithm],
                issuer="resorb",
                options={
                    "require": ["sub", "role", "iat", "exp", "jti", "iss"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from None
        exp, iat = claims["exp"], claims["iat"]
        if not isinstance(exp, int | float) or not isinstance(iat, int | float):
            raise TokenError("exp and iat must be numbers")
        if now_s >= exp:
            raise TokenError("token has expired")
        if iat > now_s + 60:
            raise TokenError("token issued in the future")
        if claims["role"] not in _ROLES or not isinstance(claims["sub"], str):
            raise TokenError("unknown role or subject")
        return claims
