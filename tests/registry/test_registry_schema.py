"""The packaged Alembic migration creates exactly the schema of the SQLAlchemy models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from resorb.registry._migrate import current_revision, head_revision
from resorb.registry._models import Base


def test_migration_creates_exactly_the_models_schema(registry):
    """Recipe: upgrade an empty database to head with the packaged scripts, then ask
    alembic's autogenerate comparison for differences against ``Base.metadata``
    (types included); an empty diff means migration and models agree."""
    with registry.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []
    tables = set(inspect(registry.engine).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_upgrade_is_idempotent_and_reaches_head(registry):
    assert current_revision(registry.engine) == head_revision()
    registry.upgrade()
    assert current_revision(registry.engine) == head_revision()


def test_migration_on_a_new_database_matches_the_models(fresh_registry):
    """The same check on a database migrated inside this test (not the shared template)."""
    with fresh_registry.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == []
