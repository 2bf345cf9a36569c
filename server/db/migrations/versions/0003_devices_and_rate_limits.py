"""Revocable devices, testers and the audit chain head per device; rate-limit buckets shared by every process.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite adds a foreign key only by copying the table; PostgreSQL gets plain ALTER TABLEs.
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("revoked_reason", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("replaced_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("tester", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("audit_seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("audit_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("audit_reported_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("audit_alert", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("audit_alert_at", sa.DateTime(), nullable=True))
        batch.create_foreign_key(op.f("fk_devices_replaced_by_id_devices"), "devices", ["replaced_by_id"], ["id"])
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("tat", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
    )
    op.create_index(op.f("ix_rate_limits_tat"), "rate_limits", ["tat"])


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_limits_tat"), table_name="rate_limits")
    op.drop_table("rate_limits")
    with op.batch_alter_table("devices") as batch:
        batch.drop_constraint(op.f("fk_devices_replaced_by_id_devices"), type_="foreignkey")
        for column in ("audit_alert_at", "audit_alert", "audit_reported_at", "audit_hash", "audit_seq", "tester",
                       "replaced_by_id", "revoked_reason"):
            batch.drop_column(column)
