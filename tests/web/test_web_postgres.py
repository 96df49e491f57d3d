"""The web app on PostgreSQL (the registry's server database), through the API.

Uses ``RESORB_TEST_POSTGRES_URL`` like the registry tests (``.ci/postgres.sh``
starts a server and prints it); without it the test is skipped with that reason.
"""

from __future__ import annotations

import os

import pytest
from _webtools import PASSWORD, SECRET, bearer, make_client
from sqlalchemy import text

from resorb.registry import Registry
from resorb.registry._models import Base
from resorb.web import create_app

PG_URL = os.environ.get("RESORB_TEST_POSTGRES_URL")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="RESORB_TEST_POSTGRES_URL not set (CI sets it)"),
]


@pytest.fixture
def pg_registry():
    reg = Registry(PG_URL)
    reg.upgrade()
    names = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
    with reg.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    reg.add_user("doc", PASSWORD, role="clinician")
    reg.add_user("res", PASSWORD, role="researcher")
    yield reg
    reg.close()


def test_api_flow_on_postgresql(pg_registry, monkeypatch):
    monkeypatch.delenv("RESORB_SECRET_KEY", raising=False)
    app = create_app(PG_URL, secret_key=SECRET, registry=pg_registry)
    with make_client(app) as c:
        h = bearer(c, "doc")
        pid = c.post(
            "/api/patients",
            headers=h,
            json={"pseudonym": "PG-1", "birth_year": 1966, "sex": "male"},
        ).json()["id"]
        m1 = c.post(
            f"/api/patients/{pid}/mri",
            headers=h,
            json={"date": "2026-02-01", "volume_mm3": 2000, "level": "L4-L5"},
        ).json()["id"]
        c.post(
            f"/api/patients/{pid}/mri",
            headers=h,
            json={"date": "2026-08-01", "volume_mm3": 500, "level": "L4-L5"},
        )
        c.post(
            f"/api/patients/{pid}/findings",
            headers=h,
            json={"mri_id": m1, "level": "L4-L5", "morphology": "sequestration"},
        )
        c.post(
            f"/api/patients/{pid}/visits",
            headers=h,
            json={"date": "2026-02-01", "leg_pain_nrs": 8, "notes": "pg private note"},
        )
        tl = c.get(f"/api/patients/{pid}/timeline", headers=h).json()
        assert tl["mri"][1]["resorption_percent"] == pytest.approx(75.0)
        stored = c.post(f"/api/patients/{pid}/assessments", headers=h)
        assert stored.status_code == 201
        dup = c.post(
            "/api/patients",
            headers=h,
            json={"pseudonym": "PG-1", "birth_year": 1966, "sex": "male"},
        )
        assert dup.status_code == 422 and dup.json()["detail"][0]["field"] == "pseudonym"
        r = c.get("/api/research/patients", headers=bearer(c, "res"))
        research = r.json()
        assert [x["pseudonym"] for x in research] == ["PG-1"]
        assert "notes" not in research[0]["visits"][0] and "pg private note" not in r.text


def test_server_database_without_a_secret_is_refused(monkeypatch):
    from resorb.errors import InvalidInputError

    monkeypatch.delenv("RESORB_SECRET_KEY", raising=False)
    with pytest.raises(InvalidInputError, match="RESORB_SECRET_KEY"):
        create_app(PG_URL)
