"""Helpers shared by the web tests (imported by conftest and the test modules)."""

from __future__ import annotations

import re
import warnings

with warnings.catch_warnings():
    # Starlette's TestClient announces a future switch to httpx2 when imported.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PASSWORD = "correct-horse-battery"
SECRET = "test-secret-" + "k" * 40
USERS = {"doc": "clinician", "res": "researcher", "adm": "admin"}


class Clock:
    """A settable clock (seconds since the epoch) for sessions, tokens and rate limits."""

    def __init__(self, now_s: float = 1_790_000_000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


def make_client(app, **kwargs) -> TestClient:
    return TestClient(app, follow_redirects=False, **kwargs)


def bearer(client, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def login(client, username: str, password: str = PASSWORD) -> str:
    """Sign in through the login form; returns the new session's CSRF token."""
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={"csrf_token": token, "username": username, "password": password, "next": "/patients"},
    )
    assert r.status_code == 303, r.text
    page = client.get(
        "/cohort" if USERS.get(username) == "researcher" else "/patients", follow_redirects=True
    )
    return csrf_of(page.text)


def auth(app, username: str) -> dict[str, str]:
    """A bearer header issued by the app's own codec (skips the slow password hash).

    The login path itself is tested with :func:`bearer`.
    """
    state = app.state.resorb
    token = state.tokens.issue(username, USERS[username], now_s=state.settings.clock())
    return {"Authorization": f"Bearer {token}"}
