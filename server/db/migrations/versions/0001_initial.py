"""Initial schema: clinics, enrollment codes, devices, feedback records, the model registry.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "clinics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinics")),
        sa.UniqueConstraint("name", name=op.f("uq_clinics_name")),
        sa.UniqueConstraint("public_id", name=op.f("uq_clinics_public_id")),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("manifest", JSON, nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("signed_by", sa.String(length=16), nullable=True),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("created", sa.String(length=10), nullable=False),
        sa.Column("expires", sa.String(length=10), nullable=False),
        sa.Column("archive_format", sa.String(length=16), nullable=False),
        sa.Column("archive_sha256", sa.String(length=64), nullable=False),
        sa.Column("archive_size", sa.BigInteger(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("published_by", sa.String(length=100), nullable=False),
        sa.Column("promoted_at", sa.DateTime(), nullable=True),
        sa.Column("promoted_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint("stage IN ('staging', 'production', 'archived')", name=op.f("ck_model_versions_stage")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("version", name=op.f("uq_model_versions_version")),
    )
    # At most one production model, enforced by the database for every process that promotes.
    op.create_index(
        "uq_model_versions_one_production", "model_versions", ["stage"], unique=True,
        sqlite_where=sa.text("stage = 'production'"), postgresql_where=sa.text("stage = 'production'"),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], name=op.f("fk_devices_clinic_id_clinics")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_devices_token_hash")),
    )
    op.create_index(op.f("ix_devices_clinic_id"), "devices", ["clinic_id"])
    op.create_table(
        "model_archive_chunks",
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["model_versions.id"], name=op.f("fk_model_archive_chunks_model_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_id", "seq", name=op.f("pk_model_archive_chunks")),
    )
    op.create_table(
        "model_stage_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("from_stage", sa.String(length=16), nullable=True),
        sa.Column("to_stage", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"], ["model_versions.id"], name=op.f("fk_model_stage_changes_model_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_stage_changes")),
    )
    op.create_index(op.f("ix_model_stage_changes_model_id"), "model_stage_changes", ["model_id"])
    op.create_table(
        "enrollment_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], name=op.f("fk_enrollment_codes_clinic_id_clinics")),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name=op.f("fk_enrollment_codes_device_id_devices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_enrollment_codes_code_hash")),
    )
    op.create_index(op.f("ix_enrollment_codes_clinic_id"), "enrollment_codes", ["clinic_id"])
    op.create_table(
        "feedback_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("confirmed_diagnosis", sa.String(length=16), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], name=op.f("fk_feedback_records_clinic_id_clinics")),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name=op.f("fk_feedback_records_device_id_devices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_records")),
        # The idempotency of feedback intake across processes rests on this constraint.
        sa.UniqueConstraint("uuid", name=op.f("uq_feedback_records_uuid")),
    )
    op.create_index(op.f("ix_feedback_records_clinic_id_week"), "feedback_records", ["clinic_id", "week"])
    op.create_index(op.f("ix_feedback_records_received_at"), "feedback_records", ["received_at"])


def downgrade() -> None:
    op.drop_table("feedback_records")
    op.drop_table("enrollment_codes")
    op.drop_table("model_stage_changes")
    op.drop_table("model_archive_chunks")
    op.drop_table("devices")
    op.drop_index("uq_model_versions_one_production", table_name="model_versions")
    op.drop_table("model_versions")
    op.drop_table("clinics")
