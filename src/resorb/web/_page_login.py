"""Pages: sign-in and sign-out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from resorb.web._auth import CAN_READ_IDENTIFIED, check_csrf
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
    client = request.client.host if request.client else "unknown"
    keys = (f"user:{username.lower()}", f"addr:{client}")
    wait = st.limiter.retry_after_s(*keys)
    if wait > 0:
        return render(request, "login.html",
                      {"error": f"Too many failed sign-ins. Try again in "
                                f"{int(wait // 60) + 1} minutes.",
                       "username": username, "next_url": next_url},
                      status_code=429, headers={"Retry-After": str(int(wait) + 1)})
    user = st.registry.authenticate(username, password)
    if user is None:
        st.limiter.failed(*keys)
        return render(request, "login.html",
                      {"error": "Wrong user name or password.", "username": username,
                       "next_url": next_url}, status_code=401)
    st.limiter.succeeded(keys[0])
    # A new session (and CSRF token) at login: no session fixation.
    request.state.session = Session.new(st.settings.clock(), username=user.username)
    if user.role not in CAN_READ_IDENTIFIED and next_url.startswith("/patients"):
        next_url = "/research/patients"
    return redirect(next_url)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await check_csrf(request)
    request.state.session = Session.new(state(request).settings.clock())
    return redirect("/login", "You have signed out.", request=request)
