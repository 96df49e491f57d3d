"""Registry secrets (the key of the DICOM UID map).

Revision ID: 0003_registry_keys
Revises: 0002_login_state
Create Date: 2026-12-02 08:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_registry_keys"
down_revision = "0002_login_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_keys",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_registry_keys")),
    )


def downgrade() -> None:
    op.drop_table("registry_keys")
