"""Fixtures of the web tests: a registry file with three users, the app on an injected clock."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("fastapi", reason="the web app needs the web extra (fastapi)")
pytest.importorskip("sqlalchemy", reason="the web app needs the web extra (SQLAlchemy)")
pytest.importorskip("httpx", reason="the web app's tests need the web extra (httpx)")
pytest.importorskip("jwt", reason="the web app needs the web extra (PyJWT)")
pytest.importorskip("argon2", reason="the web app needs the web extra (argon2-cffi)")
pytest.importorskip("multipart", reason="the web app needs the web extra (python-multipart)")

from _webtools import PASSWORD, SECRET, USERS, Clock, auth, make_client

from resorb.registry import Registry
from resorb.web import create_app


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """A migrated registry with the three users, copied for every test (hashing is slow)."""
    path = tmp_path_factory.mktemp("registry") / "template.db"
    reg = Registry(f"sqlite:///{path}")
    reg.upgrade()
    for name, role in USERS.items():
        reg.add_user(name, PASSWORD, role=role)
    reg.close()
    return path


@pytest.fixture
def db_url(template_db, tmp_path) -> str:
    path = tmp_path / "resorb.db"
    shutil.copy(template_db, path)
    return f"sqlite:///{path}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(db_url):
    reg = Registry(db_url)
    yield reg
    reg.close()


@pytest.fixture
def app(db_url, registry, clock):
    return create_app(db_url, secret_key=SECRET, registry=registry, clock=clock)


@pytest.fixture
def client(app):
    with make_client(app) as c:
        yield c


@pytest.fixture
def patient_with_series(client, app):
    """A clinician-created patient with two MRIs (1500 -> 600 mm3), findings and a visit."""
    h = auth(app, "doc")
    pid = client.post(
        "/api/patients",
        headers=h,
        json={
            "pseudonym": "WEB-001",
            "birth_year": 1980,
            "sex": "female",
            "onset_date": "2026-01-02",
        },
    ).json()["id"]
    m1 = client.post(
        f"/api/patients/{pid}/mri",
        headers=h,
        json={"date": "2026-01-10", "volume_mm3": 1500, "level": "L5-S1"},
    ).json()["id"]
    client.post(
        f"/api/patients/{pid}/mri",
        headers=h,
        json={"date": "2026-05-10", "volume_mm3": 600, "level": "L5-S1"},
    )
    client.post(
        f"/api/patients/{pid}/findings",
        headers=h,
        json={
            "mri_id": m1,
            "level": "L5-S1",
            "morphology": "extrusion",
            "containment": "uncontained",
        },
    )
    client.post(
        f"/api/patients/{pid}/visits",
        headers=h,
        json={
            "date": "2026-01-10",
            "leg_pain_nrs": 7,
            "back_pain_nrs": 4,
            "odi_answers": [3, 2, None, 4, 1, 0, 2, 3, 1, 2],
            "notes": "private clinical note",
        },
    )
    client.post(
        f"/api/patients/{pid}/visits",
        headers=h,
        json={"date": "2026-05-10", "leg_pain_nrs": 2, "back_pain_nrs": 2},
    )
    return pid
