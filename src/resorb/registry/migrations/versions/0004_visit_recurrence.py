"""Visits record a recurrence: symptoms back after recovery (or after resorption).

Revision ID: 0004_visit_recurrence
Revises: 0003_registry_keys
Create Date: 2026-12-02 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_visit_recurrence"
down_revision = "0003_registry_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("visits") as batch:
        batch.add_column(sa.Column("recurrence", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("visits") as batch:
        batch.drop_column("recurrence")
