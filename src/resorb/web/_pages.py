"""Server-rendered pages (Jinja2): the plumbing every page area shares.

Every form carries the session's CSRF token and re-renders with the message
beside the field and the user's input kept. The pages themselves live in one
module per area, each with its own router: sign-in (:mod:`._page_login`),
patients and follow-up forms (:mod:`._page_patients`), assessment and report
(:mod:`._page_assessment`), research view and cohort dashboard
(:mod:`._page_research`), user administration (:mod:`._page_admin`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ValidationError

from resorb.errors import InvalidInputError
from resorb.web._auth import Principal, page_principal
from resorb.web._signing import Session

__all__ = [
    "User",
    "choices",
    "clean_form",
    "error_from",
    "error_page",
    "fmt",
    "form_errors",
    "redirect",
    "render",
    "safe_next",
    "state",
    "therapy_name",
]

#: The signed-in user of a page (redirects to the sign-in page when there is none).
User = Annotated[Principal, Depends(page_principal)]


def fmt(value: Any, digits: int = 0, unit: str = "") -> str:
    """Number for display (``–`` for missing)."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | int):
        text = f"{value:,.{digits}f}".replace(",", " ")
        return f"{text} {unit}".strip()
    return f"{value} {unit}".strip()


def therapy_name(key: str | None) -> str:
    """A therapy's name in the catalogue (``nsaid`` -> ``Non-steroidal anti-inflammatory
    drugs``); a name the catalogue does not hold is shown as recorded."""
    from resorb.therapy import therapy_catalogue

    therapy = therapy_catalogue().get(key or "")
    return therapy.name if therapy is not None else (key or "").replace("_", " ")


def state(request: Request) -> Any:
    """The application state (registry, settings, templates, caches)."""
    return request.app.state.resorb


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    user: Principal | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    session: Session = request.state.session
    ctx = {
        "user": user,
        "csrf_token": session.csrf,
        "flash": session.flash,
        "flash_kind": "warn" if session.flash and "expired" in session.flash else "ok",
    }
    if session.flash:
        request.state.session = replace(session, flash=None)
    ctx.update(context or {})
    return state(request).templates.TemplateResponse(
        request, name, ctx, status_code=status_code, headers=headers
    )


def error_page(
    request: Request,
    status_code: int,
    title: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    user = None
    session = getattr(request.state, "session", None)
    if session is not None and session.username:
        rec = state(request).registry.get_user(session.username)
        if rec is not None and rec.active:
            user = Principal(rec.username, rec.role)
    if session is None:  # outside the session middleware (should not happen for pages)
        return HTMLResponse(f"<h1>{title}</h1>", status_code=status_code)
    return render(
        request,
        "error.html",
        {"title": title, "message": message},
        status_code=status_code,
        user=user,
        headers=headers,
    )


def redirect(
    url: str, flash: str | None = None, *, request: Request | None = None
) -> RedirectResponse:
    """A 303 redirect, with an optional message shown on the next page."""
    if flash and request is not None:
        request.state.session = replace(request.state.session, flash=flash)
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None) -> str:
    """Only same-site paths: no scheme, no host, no protocol-relative ``//``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/patients"
    return target


def clean_form(form: Any, names: list[str]) -> dict[str, Any]:
    """Form strings to a mapping for the schemas: blank fields are left out."""
    out: dict[str, Any] = {}
    for n in names:
        v = form.get(n)
        if isinstance(v, str) and v.strip() != "":
            out[n] = v.strip()
    return out


def _field(loc: tuple) -> str:
    return str(loc[0]) if loc else "form"


def form_errors(model: type[BaseModel], data: dict[str, Any]) -> dict[str, str]:
    """All field errors of ``data`` against ``model`` as ``{field: message}``."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors(include_url=False):
            msg = str(err["msg"])
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
            cause = (err.get("ctx") or {}).get("error")
            if isinstance(cause, InvalidInputError):
                msg = cause.message + (f" (allowed: {cause.allowed})" if cause.allowed else "")
            if err["type"] == "missing":
                msg = "is required"
            errors.setdefault(_field(tuple(err["loc"])), msg)
        return errors
    return {}


def error_from(exc: InvalidInputError) -> dict[str, str]:
    head, _, rest = exc.field.partition(".")
    name = (
        rest if rest and head in ("patient", "visit", "mri", "findings", "therapy") else exc.field
    )
    msg = exc.message + (f" (allowed: {exc.allowed})" if exc.allowed else "")
    return {name.split("[")[0]: msg}


def choices(enum: Any) -> list[tuple[str, str]]:
    """The values of an enum as (value, label) pairs for a select box."""
    return [(str(m.value), str(m.value)) for m in enum]
