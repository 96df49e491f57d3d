"""ASGI middleware: security headers, request bounds and the session cookie."""

from __future__ import annotations

import json
import logging
import re
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException

from resorb.web._settings import WebSettings
from resorb.web._signing import Session, SessionCodec

__all__ = [
    "SESSION_COOKIE",
    "RequestBoundsMiddleware",
    "SecurityHeadersMiddleware",
    "SessionMiddleware",
    "auth_state",
]

log = logging.getLogger("resorb.web")

SESSION_COOKIE = "resorb_session"

#: No inline script or style anywhere: everything comes from /static.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeadersMiddleware:
    """Adds CSP, anti-framing and no-store headers to every HTTP response.

    Patient pages and API answers must not be kept in browser or proxy caches;
    only ``/static/`` assets may be cached.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                own = message.get("headers", [])
                # A route may set a stricter-or-different CSP (the report page does).
                has_csp = any(k.lower() == b"content-security-policy" for k, _ in own)
                headers = [(k, v) for k, v in own if k.lower() not in (b"cache-control", b"server")]
                if not has_csp:
                    headers.append((b"content-security-policy", CSP.encode()))
                headers += [
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
                ]
                if static:
                    headers.append((b"cache-control", b"public, max-age=3600"))
                else:
                    headers += [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
                if scope.get("scheme") == "https":
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": headers}
            await send(message)

        started = False

        async def send_tracking(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send_wrapper(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            # An unexpected error: one log line with its type and route only (the
            # message of a database error could hold row values), and a 500 that
            # carries the same security headers as every other answer.
            busy = _database_busy(exc)
            log.error(
                "%s %s on %s %s",
                "database busy:" if busy else "internal error",
                type(exc).__name__,
                scope.get("method", "?"),
                scope.get("route_path") or scope["path"],
            )
            if started:
                raise
            if busy:  # the busy timeout (30 s) ran out: nothing was written; try again
                await send_plain(
                    send_wrapper,
                    503,
                    "the registry is busy; nothing was changed, try again shortly",
                    as_json=_wants_json(scope),
                    headers=[(b"retry-after", b"5")],
                )
                return
            await send_plain(
                send_wrapper,
                500,
                "internal error; the request was not completed (see the server log)",
                as_json=_wants_json(scope),
            )


def _database_busy(exc: BaseException) -> bool:
    """A SQLite lock that outlasted the busy timeout (or a PostgreSQL lock timeout)."""
    from sqlalchemy.exc import OperationalError

    text = str(getattr(exc, "orig", "") or "").lower()
    return isinstance(exc, OperationalError) and (
        "database is locked" in text or "lock timeout" in text or "busy" in text
    )


def _wants_json(scope) -> bool:
    path = scope.get("path", "")
    return path.startswith("/api/") or path == "/healthz"


async def send_plain(
    send,
    status: int,
    message: str,
    *,
    as_json: bool,
    headers: list[tuple[bytes, bytes]] | None = None,
    detail: object = None,
) -> None:
    """A short answer without the app: JSON ``{"detail", "error"}`` or plain text.

    ``detail`` replaces the message in the JSON ``detail`` where the documented
    response shape needs it (a 422 lists its fields, as validation errors do).
    """
    if as_json:
        body = json.dumps(
            {"detail": message if detail is None else detail, "error": message}
        ).encode()
        ctype = b"application/json"
    else:
        body = (message + "\n").encode()
        ctype = b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", ctype),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its limit (an HTTP
    exception, so that FastAPI's body reader passes it on as a 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"request body too large (limit {limit:,} bytes)")


def _too_big(text: str) -> bool:
    """True for an integer literal beyond 64 bits (without converting a huge one)."""
    digits = text.strip().lstrip("+-").lstrip("0")
    return len(digits) > 19 or (bool(digits) and int(digits) > MAX_ID)


#: Largest value of a database id (64-bit signed integer).
MAX_ID = 2**63 - 1
_INTEGER = re.compile(r"^[+-]?\d+$")


class RequestBoundsMiddleware:
    """Refuses oversized bodies and out-of-range integers before any parsing or login.

    - A body larger than ``max_body_bytes`` (``upload_max_bytes`` for a
      multipart upload to a path containing ``/mask``) is answered 413, from
      its ``Content-Length`` without reading it, or as soon as a streamed
      (chunked) body passes the limit. This runs before authentication, so an
      anonymous client cannot make the server parse or spool a large body.
    - A path segment or query value that is an integer beyond 64 bits is
      answered 404 (no record can have that id) or 422 (query), one line,
      instead of reaching the database.
    """

    def __init__(self, app, *, max_body_bytes: int, upload_max_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.upload_max_bytes = upload_max_bytes

    def _limit(self, scope) -> int:
        ctype = b""
        for key, value in scope.get("headers", []):
            if key == b"content-type":
                ctype = value.lower()
        if ctype.startswith(b"multipart/form-data") and "/mask" in scope.get("path", ""):
            return self.upload_max_bytes
        return self.max_body_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        as_json = _wants_json(scope)
        for seg in scope.get("path", "").split("/"):
            if _INTEGER.match(seg) and _too_big(seg):
                await send_plain(send, 404, "not found: no record has that id", as_json=as_json)
                return
        query = scope.get("query_string", b"").decode("latin-1")
        if len(query) > 8192:
            await send_plain(send, 414, "query string too long", as_json=as_json)
            return
        for name, value in parse_qsl(query, keep_blank_values=True):
            if _INTEGER.match(value.strip()) and _too_big(value):
                field, allowed = name[:40], f"at most {MAX_ID}"
                await send_plain(
                    send,
                    422,
                    f"{field}: integer out of range (allowed: {allowed})",
                    as_json=as_json,
                    detail=[
                        {
                            "field": field,
                            "message": "integer out of range",
                            "allowed": allowed,
                            "type": "int_too_big",
                        }
                    ],
                )
                return
        limit = self._limit(scope)
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await send_plain(send, 400, "invalid Content-Length", as_json=as_json)
                    return
                if declared > limit:
                    await send_plain(
                        send,
                        413,
                        f"request body too large (limit {limit:,} bytes)",
                        as_json=as_json,
                    )
                    return
        received = 0

        async def bounded_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)
            return message

        started = False

        async def send_tracking(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, send_tracking)
        except _BodyTooLarge:
            if started:
                raise
            await send_plain(
                send, 413, f"request body too large (limit {limit:,} bytes)", as_json=as_json
            )


def auth_state(scope):
    """The app's :class:`~resorb.registry.AuthState` (login tables), made on first use."""
    from resorb.registry import AuthState

    app_state = scope["app"].state
    auth = getattr(app_state, "resorb_auth", None)
    if auth is None:
        auth = AuthState(app_state.resorb.registry.engine)
        app_state.resorb_auth = auth
    return auth


class SessionMiddleware:
    """Reads, renews and writes the signed session cookie for browser pages.

    The session lives in ``request.state.session``. A missing, forged or
    expired (idle or absolute timeout) cookie gives a fresh anonymous session;
    an expired one also leaves a message for the login page. A signed-in
    cookie counts only while its server-side session record exists: signing
    out or deactivating the user deletes it, so a copied cookie stops working
    at once. Every response
    renews the cookie (sliding idle timeout). The API (``/api``) does not use
    cookies at all, so it needs no CSRF defence.
    """

    def __init__(self, app, *, settings: WebSettings) -> None:
        self.app = app
        self.settings = settings
        self.codec = SessionCodec(settings.secret_key)

    def _live(self, scope, session: Session, now: float) -> bool:
        """The signed-in session still exists on the server (not signed out, not
        ended by deactivation, not timed out) and belongs to the cookie's user."""
        if not session.sid:
            return False
        user = auth_state(scope).session_user(
            session.sid,
            now_s=now,
            idle_s=self.settings.session_idle_s,
            absolute_s=self.settings.session_absolute_s,
        )
        return user is not None and user == session.username

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(("/api/", "/static/")) or path == "/healthz":
            await self.app(scope, receive, send)
            return
        now = self.settings.clock()
        cookie = None
        for key, value in scope.get("headers", []):
            if key == b"cookie":
                jar = SimpleCookie()
                try:
                    jar.load(value.decode("latin-1"))
                except Exception:  # a malformed Cookie header is treated as none
                    continue
                if SESSION_COOKIE in jar:
                    cookie = jar[SESSION_COOKIE].value
        session = self.codec.loads(cookie)
        if session is None:
            session = Session.new(now)
        elif session.expired(
            now, idle_s=self.settings.session_idle_s, absolute_s=self.settings.session_absolute_s
        ) or (session.username is not None and not self._live(scope, session, now)):
            expired_user = session.username is not None
            if expired_user and session.sid:
                auth_state(scope).end_session(session.sid)
            session = Session.new(now)
            if expired_user:
                session = Session(
                    csrf=session.csrf,
                    created_s=now,
                    seen_s=now,
                    flash="Your session expired. Please sign in again.",
                )
        else:
            session = session.touched(now)
        scope.setdefault("state", {})["session"] = session
        secure = scope.get("scheme") == "https"

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                current = scope["state"]["session"]
                attrs = (
                    f"{SESSION_COOKIE}={self.codec.dumps(current)}; Path=/; HttpOnly; "
                    f"SameSite=Lax; Max-Age={int(self.settings.session_absolute_s)}"
                )
                if secure:
                    attrs += "; Secure"
                headers = [*message.get("headers", []), (b"set-cookie", attrs.encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)
