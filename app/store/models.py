"""The tables of the clinic's encrypted database, in the clinic's words, as SQLAlchemy 2 models.

This is the shape the Alembic revisions in `app/store/migrations/versions/` build; a test compares the two so they
cannot drift. Times are stored as fixed-width UTC ISO-8601 text (sortable, readable in a hex dump of a decrypted
page, no time-zone guessing). The full diagnose response (with its explanation) is kept compressed with a preset
zlib dictionary (app/store/compression.py): 4.4 KB of JSON become about 0.5 KB, which matters at 300,000
encounters. Columns that lists and reports need (state, attention flag, model version, final code) are copied out
of the JSON so nothing has to decompress to draw a list. Closed encounters must be complete: a CHECK constraint
refuses a closed row without its request, response and confirmed diagnosis, so a crash can never leave a
half-written closed encounter.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.store import compression

ROLES = ("doctor", "nurse", "admin")
SEXES = ("F", "M")
ENCOUNTER_STATUSES = ("draft", "closed")
CODE_SYSTEMS = ("ICD10", "ORPHA")
# Identity documents: Colombia's as RIPS names them (the first ten), then those of neighbouring countries added by
# revision 0002 (Peru's DNI and CPP, the cédula de identidad of Ecuador, Bolivia and Venezuela, a birth record, a
# foreign national document); "OTRO" for anything else a clinic meets. Which country uses which, and the age rules,
# are in app/ui/document_types.py. Changing this tuple needs a migration: it is the patients table's CHECK.
DOCUMENT_TYPES = ("CC", "TI", "RC", "CE", "PA", "PPT", "PEP", "MS", "AS", "OTRO", "DNI", "CPP", "CI", "PN", "DE")


UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def format_utc(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store; use aware UTC datetimes")
    return value.astimezone(dt.UTC).strftime(UTC_FORMAT)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes as 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (fixed width, so text order is time order)."""

    impl = String(27)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> str | None:
        return None if value is None else format_utc(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return dt.datetime.strptime(value, UTC_FORMAT).replace(tzinfo=dt.UTC)


def dump_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class JsonText(TypeDecorator[Any]):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else dump_json(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


class CompressedJson(TypeDecorator[Any]):
    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        return None if value is None else compression.pack(dump_json(value).encode("utf-8"))

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(compression.unpack(value).decode("utf-8"))


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Clinic(Base):
    """The one clinic this laptop serves. `id` is random: it identifies the clinic to the central service without
    saying where it is. `pseudonym_key` turns patient ids into the pseudonyms sent with feedback."""

    __tablename__ = "clinic"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    municipality: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    pseudonym_key: Mapped[bytes] = mapped_column(LargeBinary(32))


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLES}", name="role"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    login: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_passphrase: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str | None] = mapped_column(String(32))
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint(f"sex IN {SEXES}", name="sex"),
        CheckConstraint(f"document_type IN {DOCUMENT_TYPES}", name="document_type"),
        UniqueConstraint("document_type", "document_norm"),
        Index(None, "document_norm"),
        Index(None, "sort_name"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    given_names: Mapped[str] = mapped_column(String(200))
    family_names: Mapped[str] = mapped_column(String(200))
    # Family names then given names, folded: the order of a clinic list.
    sort_name: Mapped[str] = mapped_column(String(400))
    document_type: Mapped[str] = mapped_column(String(4))
    document_number: Mapped[str | None] = mapped_column(String(40))
    document_norm: Mapped[str | None] = mapped_column(String(40))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    village: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class PatientNameToken(Base):
    """One folded word of a patient's names. The (token, patient) key makes a name-prefix search an index range
    scan that already comes out in alphabetical order, so the first 50 matches cost 50 index steps."""

    __tablename__ = "patient_name_tokens"
    __table_args__ = (Index(None, "patient_id"), {"sqlite_with_rowid": False})

    token: Mapped[str] = mapped_column(String(100), primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)


class Encounter(Base):
    __tablename__ = "encounters"
    __table_args__ = (
        CheckConstraint(f"status IN {ENCOUNTER_STATUSES}", name="status"),
        CheckConstraint(f"final_code_system IS NULL OR final_code_system IN {CODE_SYSTEMS}", name="code_system"),
        CheckConstraint(
            "status = 'draft' OR (closed_at IS NOT NULL AND request IS NOT NULL AND response IS NOT NULL "
            "AND final_code IS NOT NULL AND final_code_system IS NOT NULL)",
            name="closed_is_complete",
        ),
        Index(None, "patient_id", "started_at"),
        Index(None, "clinician_id", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"))
    clinician_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(6), default="draft")
    request: Mapped[dict[str, Any] | None] = mapped_column(JsonText)
    response: Mapped[dict[str, Any] | None] = mapped_column(CompressedJson)
    model_version: Mapped[str | None] = mapped_column(String(40))
    model_sha256: Mapped[str | None] = mapped_column(String(64))
    severity: Mapped[str | None] = mapped_column(String(20))
    requires_attention: Mapped[bool | None] = mapped_column(Boolean)
    notes: Mapped[str | None] = mapped_column(Text)
    final_code: Mapped[str | None] = mapped_column(String(20))
    final_code_system: Mapped[str | None] = mapped_column(String(5))


class FeedbackOutbox(Base):
    """De-identified outcome of one closed encounter, waiting to be sent (written in the closing transaction)."""

    __tablename__ = "feedback_outbox"
    __table_args__ = (Index(None, "sent_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    encounter_id: Mapped[str] = mapped_column(ForeignKey("encounters.id"), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonText)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class InstalledModelBundle(Base):
    __tablename__ = "installed_model_bundles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(20))
    installed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    installed_by: Mapped[str | None] = mapped_column(String(32))
    manifest: Mapped[dict[str, Any]] = mapped_column(JsonText)
    active: Mapped[bool] = mapped_column(Boolean, default=False)


class Setting(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JsonText)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str | None] = mapped_column(String(32))


class AuditEntry(Base):
    """One line of the append-only audit log. `entry_hash` covers this row and `prev_hash`, so editing or
    removing a row breaks the chain; triggers (created by the migration) refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "subject", "seq"), Index(None, "user_id", "seq"))

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    user_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(String(80))
    detail: Mapped[dict[str, Any]] = mapped_column(JsonText)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


# Created by the migrations (revision 0001), checked by `vereda check`.
AUDIT_TRIGGER_NAMES = ("audit_log_no_update", "audit_log_no_delete")
