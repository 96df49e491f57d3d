"""Registry fixtures: every registry test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from ``RESORB_TEST_POSTGRES_URL`` (``.ci/postgres.sh`` starts one
and prints the URL); without it the PostgreSQL half is skipped with its reason.
Each test gets an empty database migrated with the packaged Alembic scripts.
"""

from __future__ import annotations

import os
import shutil

import pytest

pytest.importorskip("sqlalchemy", reason="the registry needs the web extra (SQLAlchemy)")
pytest.importorskip("alembic", reason="the registry needs the web extra (Alembic)")
pytest.importorskip("argon2", reason="the registry needs the web extra (argon2-cffi)")

from sqlalchemy import text

from resorb.registry import Registry
from resorb.registry._models import Base

PG_URL = os.environ.get("RESORB_TEST_POSTGRES_URL")
PG_SKIP = "RESORB_TEST_POSTGRES_URL not set (CI sets it)"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgres",
        id="postgres",
        marks=[pytest.mark.postgres, pytest.mark.skipif(not PG_URL, reason=PG_SKIP)],
    ),
]


def _wipe_postgres(url: str) -> None:
    reg = Registry(url)
    try:
        with reg.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        reg.close()


def make_registry(backend: str, tmp_path) -> Registry:
    """A freshly migrated registry on ``backend`` ("sqlite" or "postgres")."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        assert PG_URL is not None
        _wipe_postgres(PG_URL)
        url = PG_URL
    reg = Registry(url)
    reg.upgrade()
    return reg


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory):
    """One SQLite file migrated once; each test gets a copy (migrating costs ~1 s)."""
    folder = tmp_path_factory.mktemp("registry-template")
    make_registry("sqlite", folder).close()
    return folder / "registry.db"


@pytest.fixture(scope="session")
def _postgres_migrated():
    """Wipe and migrate the PostgreSQL test database once per session."""
    make_registry("postgres", None).close()
    return PG_URL


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def registry(backend, tmp_path, request):
    if backend == "sqlite":
        target = tmp_path / "registry.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), target)
        reg = Registry(f"sqlite:///{target}")
    else:
        reg = Registry(request.getfixturevalue("_postgres_migrated"))
        names = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
        with reg.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    yield reg
    reg.close()


@pytest.fixture
def fresh_registry(backend, tmp_path, request):
    """A registry migrated inside the test itself (PostgreSQL: wiped first)."""
    reg = make_registry(backend, tmp_path)
    yield reg
    reg.close()
    if backend == "postgres":  # leave the session's migrated schema for the other tests
        make_registry("postgres", None).close()


@pytest.fixture(scope="session")
def _clinician_hash() -> str:
    from resorb.registry import hash_password

    return hash_password("correct horse battery")  # argon2 costs ~0.1-1 s: hash once


@pytest.fixture
def clinician(registry, _clinician_hash) -> str:
    """User ``dr_ada`` (clinician), inserted with a precomputed hash to keep tests fast;
    ``test_registry_users.py`` exercises ``add_user`` itself."""
    from resorb.registry._models import User

    with registry.transaction(actor="test-setup") as s:
        s.add(User(username="dr_ada", password_hash=_clinician_hash, role="clinician", active=True))
    return "dr_ada"


@pytest.fixture
def patient(registry, clinician):
    return registry.create_patient(
        {
            "pseudonym": "LDH-0001",
            "birth_year": 1981,
            "sex": "female",
            "site": "north",
            "onset_date": "2026-01-20",
        },
        actor=clinician,
    )
