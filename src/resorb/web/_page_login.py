"""Pages: sign-in and sign-out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from resorb.web._auth import CAN_READ_IDENTIFIED, check_csrf
from resorb.web._login import attempt_login
from resorb.web._middleware import auth_state
from resorb.web._pages import (
    redirect,
    render,
    safe_next,
    state,
)
from resorb.web._signing import Session

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/patients", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", {"next_url": safe_next(next)})


@router.post("/login")
async def login(request: Request) -> Response:
    form = await check_csrf(request)
    st = state(request)
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    next_url = safe_next(form.get("next"))
    result = await attempt_login(request, username, password)
    if result.throttled:
        wait = result.retry_after_s
        shown = f"{int(wait) + 1} seconds" if wait < 90 else f"{int(wait // 60) + 1} minutes"
        return render(
            request,
            "login.html",
            {
                "error": f"Too many failed sign-ins. Try again in {shown}.",
                "username": username,
                "next_url": next_url,
            },
            status_code=429,
            headers={"Retry-After": str(int(wait) + 1)},
        )
    user = result.user
    if user is None:
        return render(
            request,
            "login.html",
            {"error": "Wrong user name or password.", "username": username, "next_url": next_url},
            status_code=401,
        )
    # A new session (and CSRF token) at login: no session fixation. The session
    # record on the server is what keeps it signed in (ended by sign-out).
    now = st.settings.clock()
    old = request.state.session
    if old.sid:
        auth_state(request.scope).end_session(old.sid)
    sid = auth_state(request.scope).create_session(user.username, now_s=now)
    request.state.session = Session.new(now, username=user.username, sid=sid)
    if user.role not in CAN_READ_IDENTIFIED and next_url.startswith("/patients"):
        next_url = "/research/patients"
    return redirect(next_url)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await check_csrf(request)
    old = request.state.session
    if old.sid:  # the server-side record goes: a copy of the cookie no longer works
        auth_state(request.scope).end_session(old.sid)
    request.state.session = Session.new(state(request).settings.clock())
    return redirect("/login", "You have signed out.", request=request)
