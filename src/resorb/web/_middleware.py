"""ASGI middleware: security headers and the signed session cookie."""

from __future__ import annotations

from http.cookies import SimpleCookie

from resorb.web._settings import WebSettings
from resorb.web._signing import Session, SessionCodec

__all__ = ["SESSION_COOKIE", "SecurityHeadersMiddleware", "SessionMiddleware"]

SESSION_COOKIE = "resorb_session"

#: No inline script or style anywhere: everything comes from /static.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


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
                headers = [(k, v) for k, v in own
                           if k.lower() not in (b"cache-control", b"server")]
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

        await self.app(scope, receive, send_wrapper)


class SessionMiddleware:
    """Reads, renews and writes the signed session cookie for browser pages.

    The session lives in ``request.state.session``. A missing, forged or
    expired (idle or absolute timeout) cookie gives a fresh anonymous session;
    an expired one also leaves a message for the login page. Every response
    renews the cookie (sliding idle timeout). The API (``/api``) does not use
    cookies at all, so it needs no CSRF defence.
    """

    def __init__(self, app, *, settings: WebSettings) -> None:
        self.app = app
        self.settings = settings
        self.codec = SessionCodec(settings.secret_key)

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if (scope["type"] != "http" or path.startswith(("/api/", "/static/"))
                or path == "/healthz"):
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
        elif session.expired(now, idle_s=self.settings.session_idle_s,
                             absolute_s=self.settings.session_absolute_s):
            expired_user = session.username is not None
            session = Session.new(now)
            if expired_user:
                session = Session(csrf=session.csrf, created_s=now, seen_s=now,
                                  flash="Your session expired. Please sign in again.")
        else:
            session = session.touched(now)
        scope.setdefault("state", {})["session"] = session
        secure = scope.get("scheme") == "https"

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                current = scope["state"]["session"]
                attrs = (f"{SESSION_COOKIE}={self.codec.dumps(current)}; Path=/; HttpOnly; "
                         f"SameSite=Lax; Max-Age={int(self.settings.session_absolute_s)}")
                if secure:
                    attrs += "; Secure"
                headers = [*message.get("headers", []), (b"set-cookie", attrs.encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)
