"""The central service's tables (SQLAlchemy 2 declarative), for SQLite and PostgreSQL alike.

Rules that must hold across processes live here as constraints, not in code: a feedback record's client UUID is
unique (idempotent intake with any number of workers), a code or token hash is unique, and at most one model is in
production (a partial unique index). The registry keeps every stage change with who made it and when, which the
promotion gate of the MLOps loop builds on. Staff accounts and their sessions serve the browser page (/app); a
session row holds only the sha256 of its id. Rate-limit buckets live here too, so every worker and replica charges
the same bucket for the same caller.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

STAGES = ("staging", "production", "archived")

# Stable constraint names, so Alembic migrations can refer to them on both databases.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timestamps are stored as UTC and come back timezone-aware, whatever the database does with zones."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Clinic(Base):
    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class EnrollmentCode(Base):
    __tablename__ = "enrollment_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), nullable=True)

    clinic: Mapped[Clinic] = relationship()


class Device(Base):
    """An enrolled clinic laptop. Revoked, never deleted: its feedback keeps naming it, and the list shows why.

    `audit_*` is the newest head of the laptop's own audit chain as it reported it at a sync (`seq`, `hash`), and
    `audit_alert` the last time a report went backwards (rewound) or changed an already reported entry (rewritten).
    """

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), nullable=True)
    # Testers receive staging bundles before everyone else (`vereda-server device tester ID`).
    tester: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    audit_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    audit_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    audit_reported_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    audit_alert: Mapped[str | None] = mapped_column(String(200), nullable=True)
    audit_alert_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    clinic: Mapped[Clinic] = relationship(lazy="joined", foreign_keys=[clinic_id])


class FeedbackRecord(Base):
    """One de-identified, doctor-confirmed outcome. `payload` is the validated record as received."""

    __tablename__ = "feedback_records"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    # sha256 of the canonical JSON of the validated record: how a replay is told from a conflicting reuse.
    payload_sha256: Mapped[str] = mapped_column(String(64))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), nullable=True)
    week: Mapped[str] = mapped_column(String(8))
    confirmed_diagnosis: Mapped[str] = mapped_column(String(16))
    model_version: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "clinic_id", "week"), Index(None, "received_at"))


ModelStage = Literal["staging", "production", "archived"]
AuditStatus = Literal["recorded", "unchanged", "rewound", "rewritten"]  # a laptop's audit chain head, as reported


class ModelVersion(Base):
    """A published bundle in the registry: its manifest, signature, archive and stage."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    stage: Mapped[ModelStage] = mapped_column(String(16))
    manifest: Mapped[dict[str, Any]] = mapped_column(JSONType)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(Text, nullable=True)  # manifest.sig content (base64)
    signed_by: Mapped[str | None] = mapped_column(String(16), nullable=True)  # key fingerprint, when verified
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created: Mapped[str] = mapped_column(String(10))  # manifest dates, ISO
    expires: Mapped[str] = mapped_column(String(10))
    archive_format: Mapped[str] = mapped_column(String(16))
    archive_sha256: Mapped[str] = mapped_column(String(64))
    archive_size: Mapped[int] = mapped_column(BigInteger)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    published_by: Mapped[str] = mapped_column(String(100))
    promoted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    promoted_by: Mapped[str | None] = mapped_column(String(100), nullable=True)

    __table_args__ = (
        CheckConstraint("stage IN ('staging', 'production', 'archived')", name="stage"),
        Index(
            "uq_model_versions_one_production", "stage", unique=True,
            sqlite_where=text("stage = 'production'"), postgresql_where=text("stage = 'production'"),
        ),
    )


class ModelArchiveChunk(Base):
    """The bundle archive in fixed-size pieces: stored in the database so replicas share it, read by range."""

    __tablename__ = "model_archive_chunks"

    model_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ModelStageChange(Base):
    """Every stage change of a model, with who and why: the registry's history."""

    __tablename__ = "model_stage_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_stage: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class StaffUser(Base):
    """A person who may use the browser page, made with `vereda-server staff add`. Disabled, never deleted, so the
    name cannot be reused by someone else without the administrator seeing it."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))  # scrypt$ln$r$p$salt$hash (server.core.passwords)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class StaffSession(Base):
    """A login on the browser page. Valid while not revoked, before `expires_at`, and used within the idle limit."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the cookie's value
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RateLimitBucket(Base):
    """One caller's rate-limit state (GCRA): `tat`, the time (Unix seconds) at which the caller's bucket is full again.

    A row whose `tat` has passed means the same as no row, so rows can be deleted at any time.
    """

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    tat: Mapped[float] = mapped_column(Float, index=True)
