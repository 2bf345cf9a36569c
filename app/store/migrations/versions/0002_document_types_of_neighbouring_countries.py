"""Identity documents of neighbouring countries: the patients table accepts Peru's DNI and CPP, the cédula de
identidad of Ecuador, Bolivia and Venezuela, a birth record and a foreign national document.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

SQLite cannot alter a CHECK constraint, so the table is rebuilt the SQLite way (Alembic's batch mode: a new table
with the new constraint, the rows copied, the old table dropped, the new one renamed), keeping every column, the
unique (document_type, document_norm) constraint, the foreign key and both indexes. `Database.migrate` turns
foreign keys off around the upgrade (step 1 of SQLite's documented procedure): with them on, dropping the old table
would cascade into `patient_name_tokens` and be refused by `encounters`.

Sources of the new codes (the names each registry gives its documents):
- Peru: RENIEC, Documento Nacional de Identidad (DNI, issued from birth; Ley 26497, Ley Orgánica del RENIEC);
  Superintendencia Nacional de Migraciones, carné de extranjería (CE) and Carné de Permiso Temporal de Permanencia
  (CPP; Decreto Legislativo 1350, Ley de Migraciones); the acta (partida) de nacimiento of the civil registry (PN).
- Ecuador: Dirección General de Registro Civil, Identificación y Cedulación, cédula de identidad (CI; Ley Orgánica
  de Gestión de la Identidad y Datos Civiles, 2016).
- Bolivia: Servicio General de Identificación Personal (SEGIP), cédula de identidad (CI) and cédula de identidad de
  extranjero (Ley 145 de 2011); certificado de nacimiento of the Servicio de Registro Cívico (PN).
- Venezuela: SAIME, cédula de identidad (CI; Ley Orgánica de Identificación, 2006); partida de nacimiento (PN).
- Any country: a foreign national identity document (DE, "documento extranjero", as Colombia's RIPS calls it).

Frozen like 0001: it spells out the table instead of importing app.store.models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.String(length=27)
BEFORE = ("CC", "TI", "RC", "CE", "PA", "PPT", "PEP", "MS", "AS", "OTRO")
AFTER = (*BEFORE, "DNI", "CPP", "CI", "PN", "DE")


def _patients(document_types: tuple[str, ...]) -> sa.Table:
    """The patients table as revision 0001 built it, with `document_types` in its CHECK constraint."""
    allowed = ", ".join(f"'{code}'" for code in document_types)
    return sa.Table(
        "patients", sa.MetaData(),
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
        sa.CheckConstraint(f"document_type IN ({allowed})", name="ck_patients_document_type"),
        sa.CheckConstraint("sex IN ('F', 'M')", name="ck_patients_sex"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name="fk_patients_created_by_users"),
        sa.PrimaryKeyConstraint("id", name="pk_patients"),
        sa.UniqueConstraint("document_type", "document_norm", name="uq_patients_document_type_document_norm"),
        sa.Index("ix_patients_document_norm", "document_norm"),
        sa.Index("ix_patients_sort_name", "sort_name"),
    )


def _rebuild_patients(document_types: tuple[str, ...]) -> None:
    # `copy_from` gives the whole new table, so nothing depends on how well SQLite's CHECK text is reflected.
    with op.batch_alter_table("patients", copy_from=_patients(document_types), recreate="always"):
        pass


def upgrade() -> None:
    _rebuild_patients(AFTER)


def downgrade() -> None:
    added = ", ".join(f"'{code}'" for code in AFTER if code not in BEFORE)
    held = op.get_bind().execute(sa.text(f"SELECT count(*) FROM patients WHERE document_type IN ({added})")).scalar()
    if held:
        # Refused rather than guessed: there is no older code these documents could honestly become.
        raise RuntimeError(f"{held} patients hold a document type revision 0001 does not know; change them first")
    _rebuild_patients(BEFORE)
