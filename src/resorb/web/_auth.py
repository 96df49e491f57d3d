"""Who is asking: bearer tokens for the API, the session cookie for pages, roles, CSRF."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, Request

from resorb.web._signing import Session, TokenError

__all__ = [
    "CAN_READ_IDENTIFIED",
    "CAN_WRITE",
    "CsrfError",
    "LoginRequired",
    "Principal",
    "api_principal",
    "check_csrf",
    "page_principal",
    "require_api_role",
    "require_page_role",
]

#: Roles that may change patient data. Researchers read pseudonymised data only;
#: admins manage users and also hold clinician rights (a clinic's admin is a clinician).
CAN_WRITE = frozenset({"clinician", "admin"})
#: Roles that see identified records (notes, real dates, database ids).
CAN_READ_IDENTIFIED = CAN_WRITE


@dataclass(frozen=True, slots=True)
class Principal:
    """The logged-in user behind a request."""

    username: str
    role: str

    @property
    def can_write(self) -> bool:
        return self.role in CAN_WRITE

    @property
    def identified(self) -> bool:
        return self.role in CAN_READ_IDENTIFIED


class LoginRequired(Exception):
    """A page that needs a login was asked for without one (redirect to /login)."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class CsrfError(Exception):
    """A form came without the session's CSRF token."""


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=401, detail=detail, headers={"WWW-Authenticate": 'Bearer realm="resorb"'}
    )


def _current_user(request: Request, username: str, role: str | None):
    """The active user record, or None (deleted, deactivated, or role changed)."""
    state = request.app.state.resorb
    user = state.registry.get_user(username)
    if user is None or not user.active:
        return None
    if role is not None and user.role != role:
        return None
    return user


def api_principal(request: Request) -> Principal:
    """FastAPI dependency: the user of a valid ``Authorization: Bearer`` token, else 401."""
    state = request.app.state.resorb
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized(
            "not authenticated: send Authorization: Bearer <token> from POST /api/token"
        )
    try:
        claims = state.tokens.verify(token.strip(), now_s=state.settings.clock())
    except TokenError as exc:
        raise _unauthorized(f"invalid token: {exc}") from None
    # A token whose role no longer matches the user's (or whose user was
    # deactivated) is refused: the database is the authority, not the token.
    user = _current_user(request, claims["sub"], claims["role"])
    if user is None:
        raise _unauthorized("invalid token: user inactive or role changed; request a new token")
    from resorb.web._middleware import auth_state

    if auth_state(request.scope).token_revoked(str(claims["jti"])):
        raise _unauthorized("invalid token: revoked; request a new token")
    request.state.token_claims = claims
    return Principal(username=user.username, role=user.role)


def require_api_role(principal: Principal, roles: frozenset[str], action: str) -> None:
    if principal.role not in roles:
        raise HTTPException(status_code=403, detail=f"role {principal.role!r} may not {action}")


def page_principal(request: Request) -> Principal:
    """FastAPI dependency for pages: the session's user, else a redirect to the login."""
    session: Session = request.state.session
    if session.username:
        user = _current_user(request, session.username, None)
        if user is not None:
            return Principal(username=user.username, role=user.role)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise LoginRequired(target)


def require_page_role(principal: Principal, roles: frozenset[str], action: str) -> None:
    if principal.role not in roles:
        raise HTTPException(
            status_code=403, detail=f"Your role ({principal.role}) may not {action}."
        )


async def check_csrf(request: Request):
    """Read a posted form and check its ``csrf_token`` against the session's.

    Returns the form (a ``FormData``) on success; raises :class:`CsrfError`.
    """
    form = await request.form()
    session: Session = request.state.session
    if not session.csrf_ok(form.get("csrf_token")):
        raise CsrfError()
    return form
