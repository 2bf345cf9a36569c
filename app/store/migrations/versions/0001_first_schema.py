"""First schema: clinic, users, patients (with name tokens), encounters, feedback outbox, installed model bundles,
settings and the append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Frozen: it spells out its own column types and trigger text instead of importing app.store.models, so a later change
to the models cannot change what this revision builds. Times are fixed-width UTC ISO-8601 text.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIMESTAMP = sa.String(length=27)
AUDIT_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_subject_seq"), ["subject", "seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_user_id_seq"), ["user_id", "seq"], unique=False)

    op.create_table(
        "clinic",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("municipality", sa.String(length=200), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("pseudonym_key", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinic")),
    )
    op.create_table(
        "installed_model_bundles",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("installed_at", TIMESTAMP, nullable=False),
        sa.Column("installed_by", sa.String(length=32), nullable=True),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installed_model_bundles")),
        sa.UniqueConstraint("sha256", name=op.f("uq_installed_model_bundles_sha256")),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("updated_by", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("login", sa.String(length=32), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("must_change_passphrase", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("disabled_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint("role IN ('doctor', 'nurse', 'admin')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("login", name=op.f("uq_users_login")),
    )
    op.create_table(
        "patients",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("given_names", sa.String(length=200), nullable=False),
        sa.Column("family_names", sa.String(length=200), nullable=False),
        sa.Column("sort_name", sa.String(length=400), nullable=False),
        sa.Column("document_type", sa.String(length=4), nullable=False),
        sa.Column("document_number", sa.String(length=40), nullable=True),
        sa.Column("document_norm", sa.String(length=40), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("village", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "document_type IN ('CC', 'TI', 'RC', 'CE', 'PA', 'PPT', 'PEP', 'MS', 'AS', 'OTRO')",
            name=op.f("ck_patients_document_type"),
        ),
        sa.CheckConstraint("sex IN ('F', 'M')", name=op.f("ck_patients_sex")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_patients_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("document_type", "document_norm", name=op.f("uq_patients_document_type_document_norm")),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patients_document_norm"), ["document_norm"], unique=False)
        batch_op.create_index(batch_op.f("ix_patients_sort_name"), ["sort_name"], unique=False)

    op.create_table(
        "encounters",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=False),
        sa.Column("clinician_id", sa.String(length=32), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.Column("status", sa.String(length=6), nullable=False),
        sa.Column("request", sa.Text(), nullable=True),
        sa.Column("response", sa.LargeBinary(), nullable=True),
        sa.Column("model_version", sa.String(length=40), nullable=True),
        sa.Column("model_sha256", sa.String(length=64), nullable=True),
        sa.Column("severity", sa.String(length=20), nullable=True),
        sa.Column("requires_attention", sa.Boolean(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("final_code", sa.String(length=20), nullable=True),
        sa.Column("final_code_system", sa.String(length=5), nullable=True),
        sa.CheckConstraint(
            "final_code_system IS NULL OR final_code_system IN ('ICD10', 'ORPHA')",
            name=op.f("ck_encounters_code_system"),
        ),
        sa.CheckConstraint(
            "status = 'draft' OR (closed_at IS NOT NULL AND request IS NOT NULL AND response IS NOT NULL "
            "AND final_code IS NOT NULL AND final_code_system IS NOT NULL)",
            name=op.f("ck_encounters_closed_is_complete"),
        ),
        sa.CheckConstraint("status IN ('draft', 'closed')", name=op.f("ck_encounters_status")),
        sa.ForeignKeyConstraint(["clinician_id"], ["users.id"], name=op.f("fk_encounters_clinician_id_users")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_encounters_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_encounters")),
    )
    with op.batch_alter_table("encounters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_encounters_clinician_id_started_at"), ["clinician_id", "started_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_encounters_patient_id_started_at"), ["patient_id", "started_at"], unique=False
        )

    op.create_table(
        "patient_name_tokens",
        sa.Column("token", sa.String(length=100), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_patient_name_tokens_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token", "patient_id", name=op.f("pk_patient_name_tokens")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("patient_name_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_name_tokens_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "feedback_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("encounter_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("sent_at", TIMESTAMP, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["encounter_id"], ["encounters.id"], name=op.f("fk_feedback_outbox_encounter_id_encounters")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_outbox")),
        sa.UniqueConstraint("encounter_id", name=op.f("uq_feedback_outbox_encounter_id")),
    )
    with op.batch_alter_table("feedback_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_outbox_sent_at_id"), ["sent_at", "id"], unique=False)

    for statement in AUDIT_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    for name in ("audit_log_no_update", "audit_log_no_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("feedback_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_outbox_sent_at_id"))

    op.drop_table("feedback_outbox")
    with op.batch_alter_table("patient_name_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_name_tokens_patient_id"))

    op.drop_table("patient_name_tokens")
    with op.batch_alter_table("encounters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_encounters_patient_id_started_at"))
        batch_op.drop_index(batch_op.f("ix_encounters_clinician_id_started_at"))

    op.drop_table("encounters")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patients_sort_name"))
        batch_op.drop_index(batch_op.f("ix_patients_document_norm"))

    op.drop_table("patients")
    op.drop_table("users")
    op.drop_table("settings")
    op.drop_table("installed_model_bundles")
    op.drop_table("clinic")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_user_id_seq"))
        batch_op.drop_index(batch_op.f("ix_audit_log_subject_seq"))

    op.drop_table("audit_log")
