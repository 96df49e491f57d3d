"""The resorb web app: FastAPI, server-rendered pages and a JSON API over the registry.

Build it with :func:`create_app` (``resorb serve`` does so and runs uvicorn)::

    from resorb.web import create_app
    app = create_app("sqlite:///./resorb.db")

Pages (Jinja2, no JavaScript needed) and the API under ``/api`` share the
registry's validation. Browser sessions use a signed ``HttpOnly``,
``SameSite=Lax`` cookie with idle and absolute timeouts and a CSRF token on
every form; the API uses short-lived HS256 bearer tokens from
``POST /api/token``. Roles: ``clinician`` (read and write), ``researcher``
(pseudonymised read only), ``admin`` (users, plus clinician rights).
"""

from resorb._public import publish as _publish
from resorb.web._app import create_app
from resorb.web._settings import WebSettings, load_or_create_secret

__all__ = ["WebSettings", "create_app", "load_or_create_secret"]

_publish(__name__, globals())
