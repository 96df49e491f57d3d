"""Initial registry schema: users, patients, visits, MRI, findings, therapies,
assessments, audit log and the per-patient date shifts.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-26 15:52:20.824641
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("row_id", sa.String(length=64), nullable=False),
        sa.Column("diff", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "action IN ('create', 'update', 'delete')", name=op.f("ck_audit_log_action")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('clinician', 'researcher', 'admin')", name=op.f("ck_users_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=False),
        sa.Column("sex", sa.String(length=8), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=True),
        sa.Column("onset_date", sa.Date(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("sex IN ('female', 'male', 'other')", name=op.f("ck_patients_sex")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_patients_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("pseudonym", name=op.f("uq_patients_pseudonym")),
    )
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_assessments_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_assessments_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
    )
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assessments_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "date_shifts",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("offset_days", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_date_shifts_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_date_shifts")),
    )
    op.create_table(
        "mri_studies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("date_is_shifted", sa.Boolean(), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=True),
        sa.Column("volume_mm3", sa.Float(), nullable=True),
        sa.Column("diameters_mm", sa.JSON(), nullable=True),
        sa.Column("series_info", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('manual', 'mask', 'diameters', 'dicom-seg', 'dicom-series')",
            name=op.f("ck_mri_studies_source"),
        ),
        sa.CheckConstraint(
            "volume_mm3 IS NULL OR volume_mm3 >= 0", name=op.f("ck_mri_studies_volume_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_mri_studies_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mri_studies")),
    )
    with op.batch_alter_table("mri_studies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mri_studies_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "therapy_courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("start", sa.Date(), nullable=True),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_therapy_courses_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_therapy_courses")),
    )
    with op.batch_alter_table("therapy_courses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_therapy_courses_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("leg_pain_nrs", sa.Float(), nullable=True),
        sa.Column("back_pain_nrs", sa.Float(), nullable=True),
        sa.Column("vas_mm", sa.Float(), nullable=True),
        sa.Column("odi_answers", sa.JSON(), nullable=True),
        sa.Column("odi_percent", sa.Float(), nullable=True),
        sa.Column("joa_total", sa.Integer(), nullable=True),
        sa.Column("rmdq", sa.Integer(), nullable=True),
        sa.Column("motor_mrc", sa.Integer(), nullable=True),
        sa.Column("slr_degrees", sa.Float(), nullable=True),
        sa.Column("red_flags", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_visits_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visits")),
    )
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visits_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("mri_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("morphology", sa.String(length=16), nullable=False),
        sa.Column("containment", sa.String(length=16), nullable=True),
        sa.Column("pll", sa.String(length=16), nullable=True),
        sa.Column("zone", sa.String(length=16), nullable=True),
        sa.Column("migration", sa.String(length=16), nullable=True),
        sa.Column("komori", sa.Integer(), nullable=True),
        sa.Column("msu_size", sa.Integer(), nullable=True),
        sa.Column("msu_zone", sa.String(length=4), nullable=True),
        sa.Column("rim_enhancement", sa.String(length=16), nullable=True),
        sa.Column("iwabuchi", sa.Integer(), nullable=True),
        sa.Column("t2_signal", sa.String(length=8), nullable=True),
        sa.Column("modic", sa.Integer(), nullable=True),
        sa.Column("pfirrmann", sa.Integer(), nullable=True),
        sa.Column("schizas", sa.String(length=4), nullable=True),
        sa.Column("canal_compromise_percent", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(mri_id IS NULL) <> (visit_id IS NULL)", name=op.f("ck_findings_one_parent")
        ),
        sa.ForeignKeyConstraint(
            ["mri_id"],
            ["mri_studies.id"],
            name=op.f("fk_findings_mri_id_mri_studies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_findings_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
            name=op.f("fk_findings_visit_id_visits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
    )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_findings_patient_id"), ["patient_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_findings_patient_id"))

    op.drop_table("findings")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visits_patient_id"))

    op.drop_table("visits")
    with op.batch_alter_table("therapy_courses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_therapy_courses_patient_id"))

    op.drop_table("therapy_courses")
    with op.batch_alter_table("mri_studies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mri_studies_patient_id"))

    op.drop_table("mri_studies")
    op.drop_table("date_shifts")
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assessments_patient_id"))

    op.drop_table("assessments")
    op.drop_table("patients")
    op.drop_table("users")
    op.drop_table("audit_log")
