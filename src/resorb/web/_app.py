"""The FastAPI application factory."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resorb.errors import InvalidInputError, ResorbError, require_extra
from resorb.reports import change_in_words
from resorb.web._settings import WebSettings, load_or_create_secret
from resorb.web._signing import TokenCodec

__all__ = ["AppState", "create_app"]

_HERE = Path(__file__).parent
log = logging.getLogger("resorb.web")


@dataclass(frozen=True, slots=True)
class AppState:
    """What the request handlers share: registry, settings, codecs, templates.

    Sign-in throttling and server-side sessions live in the registry database
    (:class:`resorb.registry.AuthState`), shared by every worker.
    """

    registry: Any
    settings: WebSettings
    tokens: TokenCodec
    templates: Any
    assessments: Any = None


def _field_of(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "form")]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


def _message_of(err: dict) -> tuple[str, str | None]:
    """The message and allowed values of one pydantic error, without pydantic's
    "Value error, " prefix or the ": " of a validator raised with an empty field."""
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, InvalidInputError):
        return cause.message, cause.allowed
    msg = str(err.get("msg", "invalid"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg.removeprefix(": ").strip() or "invalid", None


def _strip_prefix(field: str) -> str:
    head, _, rest = field.partition(".")
    if rest and head in ("patient", "visit", "mri", "findings", "therapy"):
        return rest
    return field


def create_app(
    db_url: str,
    *,
    secret_key: str | None = None,
    settings: WebSettings | None = None,
    registry: Any = None,
    **overrides: Any,
):
    """Build the resorb web app on the registry at ``db_url``.

    Parameters
    ----------
    db_url : str
        SQLAlchemy URL of the registry (``sqlite:///./resorb.db``, or PostgreSQL).
        The schema must exist (``resorb serve`` runs the migrations first).
    secret_key : str, optional
        Signing key of cookies and tokens. Default: ``RESORB_SECRET_KEY``, else a
        key generated on first start and kept in ``<database>.secret`` beside a
        SQLite file (see :func:`load_or_create_secret`).
    settings : WebSettings, optional
        Full settings (then ``secret_key`` and ``overrides`` must be left out).
    registry : resorb.registry.Registry, optional
        An open registry to use instead of opening ``db_url``.
    **overrides
        Fields of :class:`WebSettings` (``session_idle_s``, ``token_ttl_s``,
        ``clock``, ...).

    Returns
    -------
    fastapi.FastAPI
    """
    fastapi = require_extra("fastapi", "web")
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, RedirectResponse
    from fastapi.staticfiles import StaticFiles
    from fastapi.templating import Jinja2Templates
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from resorb.registry import RecordNotFoundError, Registry
    from resorb.web import (
        _api,
        _assess,
        _page_admin,
        _page_assessment,
        _page_corrections,
        _page_login,
        _page_masks,
        _page_pacs,
        _page_patients,
        _page_research,
        _pages,
    )
    from resorb.web._auth import CsrfError, LoginRequired
    from resorb.web._middleware import (
        RequestBoundsMiddleware,
        SecurityHeadersMiddleware,
        SessionMiddleware,
    )

    if settings is None:
        settings = WebSettings(secret_key=secret_key or load_or_create_secret(db_url), **overrides)
    elif secret_key is not None or overrides:
        raise InvalidInputError(
            "settings",
            "given together with secret_key or overrides",
            allowed="either settings or the separate options",
        )
    if registry is None:
        registry = Registry(db_url)
    templates = Jinja2Templates(directory=str(_HERE / "templates"))
    templates.env.globals["fmt"] = _pages.fmt
    templates.env.globals["therapy_name"] = _pages.therapy_name
    templates.env.globals["change_words"] = change_in_words
    state = AppState(
        registry=registry,
        settings=settings,
        tokens=TokenCodec(settings.secret_key, ttl_s=settings.token_ttl_s),
        templates=templates,
        assessments=_assess.AssessmentCache(settings.assessment_cache_size),
    )

    app = fastapi.FastAPI(
        title="resorb",
        version=_version(),
        description="Follow-up registry and assessment of lumbar disc "
        "herniation resorption. Not a medical device.",
        # Swagger UI loads script from a CDN (no network; CSP forbids it);
        # the OpenAPI schema itself is served.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.resorb = state
    app.mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static")
    app.include_router(_api.router)
    for area in (
        _page_login,
        _page_patients,
        _page_assessment,
        _page_research,
        _page_admin,
        _page_masks,
        _page_pacs,
        _page_corrections,
    ):
        app.include_router(area.router)

    def wants_json(request) -> bool:
        return request.url.path.startswith("/api/") or request.url.path == "/healthz"

    @app.exception_handler(RequestValidationError)
    async def _validation(request, exc: RequestValidationError):
        errors = []
        for err in exc.errors():
            msg, allowed = _message_of(err)
            errors.append(
                {
                    "field": _field_of(tuple(err.get("loc", ()))),
                    "message": msg,
                    "allowed": allowed,
                    "type": err.get("type"),
                }
            )
        first = errors[0] if errors else {"field": "body", "message": "invalid", "allowed": None}
        text = f"{first['field']}: {first['message']}"
        if first.get("allowed"):
            text += f" (allowed: {first['allowed']})"
        return JSONResponse(status_code=422, content={"detail": errors, "error": text})

    @app.exception_handler(InvalidInputError)
    async def _invalid(request, exc: InvalidInputError):
        field = _strip_prefix(exc.field)
        detail = {"field": field, "message": exc.message, "allowed": exc.allowed}
        text = f"{field}: {exc.message}" + (f" (allowed: {exc.allowed})" if exc.allowed else "")
        if wants_json(request):
            return JSONResponse(status_code=422, content={"detail": [detail], "error": text})
        return _pages.error_page(request, 422, "Invalid input", text)

    @app.exception_handler(RecordNotFoundError)
    async def _not_found(request, exc: RecordNotFoundError):
        if wants_json(request):
            return JSONResponse(
                status_code=404,
                content={"detail": [{"field": exc.field, "message": str(exc)}], "error": str(exc)},
            )
        return _pages.error_page(request, 404, "Not found", str(exc))

    @app.exception_handler(ResorbError)
    async def _resorb_error(request, exc: ResorbError):
        # The type only: a message can quote a stored value or a file name.
        log.warning(
            "request refused: %s on %s %s", type(exc).__name__, request.method, request.url.path
        )
        if wants_json(request):
            return JSONResponse(status_code=422, content={"detail": [], "error": str(exc)})
        return _pages.error_page(request, 422, "Cannot do that", str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc: StarletteHTTPException):
        if wants_json(request):
            return JSONResponse(
                status_code=exc.status_code,
                content={"detail": exc.detail},
                headers=getattr(exc, "headers", None),
            )
        titles = {
            401: "Sign-in needed",
            403: "Not allowed",
            404: "Not found",
            405: "Not allowed",
            429: "Too many attempts",
        }
        return _pages.error_page(
            request,
            exc.status_code,
            titles.get(exc.status_code, "Error"),
            str(exc.detail),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(LoginRequired)
    async def _login(request, exc: LoginRequired):
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(exc.next_url, safe='')}", status_code=303)

    @app.exception_handler(CsrfError)
    async def _csrf(request, exc: CsrfError):
        return _pages.error_page(
            request,
            403,
            "Form expired",
            "The form was out of date or not sent from this site (CSRF check). "
            "Go back, reload the page and submit it again.",
        )

    # Outermost first: headers wrap everything, sessions wrap the routes.
    app.add_middleware(SessionMiddleware, settings=settings)
    # Bounds before sessions and routes: nothing is parsed and nobody is looked up
    # for a body that is too large; inside the headers so a 413 carries them too.
    app.add_middleware(
        RequestBoundsMiddleware,
        max_body_bytes=settings.max_body_bytes,
        upload_max_bytes=settings.mask_max_bytes + 1024 * 1024,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def _version() -> str:
    from resorb import __version__

    return __version__
