"""Every query the central service makes, in one place: clinics and enrollment, devices, feedback, the registry.

Functions take a Session and leave committing to the caller, except where a rule needs its own transaction. The
rules that must hold with several processes are written so the database enforces them: a one-time code is spent by
a conditional UPDATE (only one process sees a row change), feedback goes in with INSERT … ON CONFLICT DO NOTHING on
the client UUID and is then compared with what is stored, and promotion relies on the one-production index.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.core import security
from server.db.models import (
    Clinic,
    Device,
    EnrollmentCode,
    FeedbackRecord,
    ModelArchiveChunk,
    ModelStageChange,
    ModelVersion,
)
from server.registry import CHUNK_BYTES, PreparedBundle, RegistryError, is_newer


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- clinics and enrollment ---------------------------------------------------------------------------------------


class EnrollmentError(Exception):
    """An enrollment code that cannot be used; `code` is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def get_or_create_clinic(session: Session, name: str, now: dt.datetime | None = None) -> Clinic:
    name = " ".join(name.split())
    clinic = session.scalar(select(Clinic).where(Clinic.name == name))
    if clinic is None:
        clinic = Clinic(name=name, public_id=security.clinic_slug(name), created_at=now or utcnow())
        session.add(clinic)
        session.flush()
    return clinic


def create_enrollment_code(
    session: Session, clinic_name: str, hours: float, now: dt.datetime | None = None
) -> tuple[str, Clinic, dt.datetime]:
    """A new one-time code for `clinic_name` (created if new). Only its hash is stored; the code is returned once."""
    now = now or utcnow()
    clinic = get_or_create_clinic(session, clinic_name, now)
    code = security.new_enrollment_code()
    expires = now + dt.timedelta(hours=hours)
    session.add(EnrollmentCode(clinic_id=clinic.id, code_hash=security.hash_code(code), created_at=now,
                               expires_at=expires))
    session.flush()
    return code, clinic, expires


def redeem_enrollment_code(session: Session, code: str, now: dt.datetime | None = None) -> tuple[Device, str]:
    """Spend a code and enroll a device; returns the device and its token (shown once). Raises EnrollmentError."""
    now = now or utcnow()
    code_hash = security.hash_code(code)
    # The conditional UPDATE is the whole guarantee: two devices racing with one code, on any number of
    # processes, see exactly one row change.
    spent = session.execute(
        update(EnrollmentCode)
        .where(EnrollmentCode.code_hash == code_hash, EnrollmentCode.used_at.is_(None),
               EnrollmentCode.expires_at > now)
        .values(used_at=now)
        .returning(EnrollmentCode.id, EnrollmentCode.clinic_id)
    ).first()
    if spent is None:
        row = session.scalar(select(EnrollmentCode).where(EnrollmentCode.code_hash == code_hash))
        if row is None:
            raise EnrollmentError("enrollment_code_unknown", "This enrollment code does not exist; check it.")
        if row.used_at is not None:
            raise EnrollmentError("enrollment_code_used", "This enrollment code was already used; ask for a new one.")
        raise EnrollmentError("enrollment_code_expired", "This enrollment code has expired; ask for a new one.")
    code_id, clinic_id = spent
    token = security.new_device_token()
    device = Device(clinic_id=clinic_id, token_hash=security.hash_token(token), created_at=now)
    session.add(device)
    session.flush()
    session.execute(update(EnrollmentCode).where(EnrollmentCode.id == code_id).values(device_id=device.id))
    session.refresh(device)
    return device, token


@dataclass(frozen=True, slots=True)
class AuthenticatedDevice:
    id: int
    clinic_pk: int
    clinic_id: str  # public id
    clinic_name: str


def device_by_token(session: Session, token: str) -> AuthenticatedDevice | None:
    row = session.execute(
        select(Device.id, Clinic.id, Clinic.public_id, Clinic.name)
        .join(Clinic, Device.clinic_id == Clinic.id)
        .where(Device.token_hash == security.hash_token(token), Device.revoked_at.is_(None))
    ).first()
    return None if row is None else AuthenticatedDevice(*row)


# --- feedback -----------------------------------------------------------------------------------------------------


def canonical_sha256(payload: dict[str, Any]) -> str:
    """sha256 of the record as canonical JSON (sorted keys, no spaces, UTF-8): equal records, equal hashes."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """`status[i]` is 'accepted' or 'conflict' for records[i]; `new` holds the uuids stored by this call."""

    status: list[str]
    new: frozenset[str]


def store_feedback(
    session: Session, records: Sequence[dict[str, Any]], clinic_pk: int, device_id: int | None,
    now: dt.datetime | None = None,
) -> IntakeResult:
    """Store validated records (dicts as `FeedbackRecordCreate.model_dump(mode="json")`), idempotently by uuid.

    A uuid already stored with the same canonical payload is 'accepted' again (a replay answers as the first send
    did); with a different payload it is a 'conflict' and the stored record is kept. Inside one batch the first of
    two records with one uuid wins in the same way.
    """
    if not records:
        return IntakeResult([], frozenset())
    now = now or utcnow()
    rows = [
        {
            "uuid": r["uuid"], "payload_sha256": canonical_sha256(r), "clinic_id": clinic_pk, "device_id": device_id,
            "week": r["week"], "confirmed_diagnosis": r["confirmed_diagnosis"], "model_version": r["model_version"],
            "payload": r, "received_at": now,
        }
        for r in records
    ]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(FeedbackRecord).on_conflict_do_nothing(index_elements=["uuid"]).returning(FeedbackRecord.uuid)
    new = frozenset(session.scalars(stmt, rows).all())
    stored = dict(
        session.execute(
            select(FeedbackRecord.uuid, FeedbackRecord.payload_sha256)
            .where(FeedbackRecord.uuid.in_({r["uuid"] for r in rows}))
        ).tuples().all()
    )
    status = ["accepted" if stored.get(r["uuid"]) == r["payload_sha256"] else "conflict" for r in rows]
    return IntakeResult(status, new)


def count_feedback(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(FeedbackRecord)) or 0


# --- registry -----------------------------------------------------------------------------------------------------


def get_model(session: Session, version: str) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.version == version))


def production_model(session: Session) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.stage == "production"))


def list_models(session: Session) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.published_at, ModelVersion.id)))


def add_model(session: Session, bundle: PreparedBundle, actor: str,
              now: dt.datetime | None = None) -> tuple[ModelVersion, bool]:
    """Publish a prepared bundle in `staging` (`promote` takes it further), or return the existing entry when the
    very same manifest was already published. Returns (model, created)."""
    now = now or utcnow()
    existing = get_model(session, bundle.version)
    if existing is not None:
        if existing.manifest_sha256 != bundle.manifest_sha256:
            raise RegistryError(
                f"version {bundle.version} is already published with a different manifest; a new bundle needs a "
                "new version"
            )
        return existing, False
    model = ModelVersion(
        version=bundle.version, stage="staging", manifest=bundle.manifest, manifest_sha256=bundle.manifest_sha256,
        signature=bundle.signature, signed_by=bundle.signed_by, metrics=bundle.manifest.get("metrics", {}),
        created=str(bundle.manifest.get("created", "")), expires=str(bundle.manifest["expires"]),
        archive_format="tar.gz", archive_sha256=bundle.archive_sha256, archive_size=bundle.archive_size,
        published_at=now, published_by=actor,
    )
    session.add(model)
    try:
        session.flush()
    except IntegrityError as exc:  # another publisher won the race for this version
        raise RegistryError(f"version {bundle.version} was published concurrently; run the command again") from exc
    session.add_all(ModelArchiveChunk(model_id=model.id, seq=i, data=c) for i, c in enumerate(bundle.chunks()))
    session.add(ModelStageChange(model_id=model.id, from_stage=None, to_stage="staging", actor=actor, at=now,
                                 reason="published"))
    session.flush()
    return model, True


def promote(session: Session, version: str, actor: str, reason: str | None = None,
            now: dt.datetime | None = None) -> tuple[ModelVersion, ModelVersion | None]:
    """Make `version` the production model and archive the previous one. Returns (promoted, previous).

    Refused when the version is unknown, archived, or not newer than production (clinics refuse older models, so
    promoting one would only stop updates). The MLOps promotion gate (issue 8) adds its checks before this call.
    """
    now = now or utcnow()
    model = get_model(session, version)
    if model is None:
        raise RegistryError(f"no published model has version {version}; see `vereda-server models`")
    if model.stage == "production":
        return model, None
    if model.stage == "archived":
        raise RegistryError(f"{version} is archived; publish a new version instead")
    if dt.date.fromisoformat(model.expires) < now.date():
        raise RegistryError(f"{version} expired on {model.expires}; clinics would refuse it")
    current = production_model(session)
    if current is not None and not is_newer(model.version, current.version):
        raise RegistryError(
            f"{version} is not newer than production {current.version}; clinics refuse older or equal versions"
        )
    if current is not None:
        current.stage = "archived"
        session.add(ModelStageChange(model_id=current.id, from_stage="production", to_stage="archived", actor=actor,
                                     at=now, reason=f"replaced by {version}"))
        session.flush()  # the one-production index must see the old row leave first
    model.stage, model.promoted_at, model.promoted_by = "production", now, actor
    session.add(ModelStageChange(model_id=model.id, from_stage="staging", to_stage="production", actor=actor, at=now,
                                 reason=reason))
    try:
        session.flush()
    except IntegrityError as exc:
        raise RegistryError("another promotion happened at the same time; run the command again") from exc
    return model, current


def archive_chunks(session: Session, model_id: int, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """The archive's bytes [start, end) in order, read one stored chunk at a time."""
    first = start // CHUNK_BYTES
    where = [ModelArchiveChunk.model_id == model_id, ModelArchiveChunk.seq >= first]
    if end is not None:
        where.append(ModelArchiveChunk.seq <= (end - 1) // CHUNK_BYTES)
    seqs = session.scalars(select(ModelArchiveChunk.seq).where(*where).order_by(ModelArchiveChunk.seq)).all()
    for seq in seqs:
        # One row per query keeps memory at one chunk however large the bundle.
        data = session.scalar(select(ModelArchiveChunk.data).where(ModelArchiveChunk.model_id == model_id,
                                                                   ModelArchiveChunk.seq == seq))
        assert data is not None
        offset = seq * CHUNK_BYTES
        lo = max(start - offset, 0)
        hi = len(data) if end is None else min(end - offset, len(data))
        if lo < hi:
            yield bytes(data[lo:hi])
