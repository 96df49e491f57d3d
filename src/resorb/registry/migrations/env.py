"""Alembic environment of the resorb registry.

Run through :func:`resorb.registry._migrate.upgrade` (``resorb registry upgrade``),
which hands over the engine in ``config.attributes["engine"]``. Offline (SQL
script) mode is not supported: the registry is always migrated in place.
"""

from __future__ import annotations

from alembic import context

from resorb.registry._models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from sqlalchemy import create_engine

        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("no engine or sqlalchemy.url given to the resorb migrations")
        engine = create_engine(url)
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline migrations are not supported; use `resorb registry upgrade`")
run_migrations_online()
