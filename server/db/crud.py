"""The central service's queries: clinics and enrollment, devices, feedback, the registry and the rate-limit
buckets (staff accounts and their web sessions: server/db/staff_accounts.py).

Functions take a Session and leave committing to the caller, except where a rule needs its own transaction. The
rules that must hold with several processes are written so the database enforces them: a one-time code is spent by
a conditional UPDATE (only one process sees a row change), feedback goes in with INSERT … ON CONFLICT DO NOTHING on
the client UUID and is then compared with what is stored, promotion relies on the one-production index, and a
rate-limit bucket is charged by one conditional upsert (the row lock orders concurrent charges).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, Float, case, delete, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Result
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.bundle import is_newer, version_key
from server.core import security
from server.db.models import (
    AuditStatus,
    Clinic,
    Device,
    EnrollmentCode,
    FeedbackRecord,
    ModelArchiveChunk,
    ModelStageChange,
    ModelVersion,
    RateLimitBucket,
)
from server.registry import CHUNK_BYTES, PreparedBundle, RegistryError


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


def redeem_enrollment_code(session: Session, code: str, now: dt.datetime | None = None,
                           previous_token: str | None = None) -> tuple[Device, str]:
    """Spend a code and enroll a device; returns the device and its token (shown once). Raises EnrollmentError.

    `previous_token` is the token the same laptop held before (`vereda enroll --force`): that device is revoked in
    the same transaction, so a laptop never holds two live tokens and the old one, if it leaked, stops working.
    """
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
    if previous_token:
        session.execute(
            update(Device)
            .where(Device.token_hash == security.hash_token(previous_token), Device.revoked_at.is_(None),
                   Device.id != device.id)
            .values(revoked_at=now, revoked_reason=f"re-enrolled as device {device.id}", replaced_by_id=device.id)
        )
    session.refresh(device)
    return device, token


@dataclass(frozen=True, slots=True)
class AuthenticatedDevice:
    id: int
    clinic_pk: int
    clinic_id: str  # public id
    clinic_name: str
    tester: bool = False


def device_by_token(session: Session, token: str) -> AuthenticatedDevice | None:
    """The live device holding `token`; None when no device has it or it was revoked."""
    row = session.execute(
        select(Device.id, Clinic.id, Clinic.public_id, Clinic.name, Device.tester)
        .join(Clinic, Device.clinic_id == Clinic.id)
        .where(Device.token_hash == security.hash_token(token), Device.revoked_at.is_(None))
    ).first()
    return None if row is None else AuthenticatedDevice(*row)


# --- devices ------------------------------------------------------------------------------------------------------


class DeviceError(Exception):
    """A device request that cannot be done as asked; the message says why."""


def list_devices(session: Session, clinic: str | None = None) -> list[Device]:
    """Every enrolled device, revoked ones included (the list is also the record of who was let in and out)."""
    stmt = select(Device).join(Clinic, Device.clinic_id == Clinic.id).order_by(Device.id)
    if clinic:
        stmt = stmt.where(Clinic.public_id == clinic)
    return list(session.scalars(stmt))


def _existing_device(session: Session, device_id: int) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise DeviceError(f"no device has id {device_id}; see `vereda-server device list`")
    return device


def revoke_device(session: Session, device_id: int, reason: str, now: dt.datetime | None = None) -> Device:
    """Revoke a device's token; every process refuses it from the next request on (tokens are checked in the
    database on every request). Revoking twice keeps the first time and reason."""
    device = _existing_device(session, device_id)
    if device.revoked_at is None:
        device.revoked_at, device.revoked_reason = now or utcnow(), reason[:200]
        session.flush()
    return device


def set_tester(session: Session, device_id: int, tester: bool) -> Device:
    device = _existing_device(session, device_id)
    if tester and device.revoked_at is not None:
        raise DeviceError(f"device {device_id} is revoked; it receives no models at all")
    device.tester = tester
    session.flush()
    return device


@dataclass(frozen=True, slots=True)
class AuditHeadReport:
    """What the service made of a laptop's audit chain head: `status` is recorded (a first or a newer head),
    unchanged, rewound (a lower sequence than before) or rewritten (the same sequence with another hash)."""

    status: AuditStatus
    seq: int
    hash: str
    alert: str | None


def report_audit_head(session: Session, device_id: int, seq: int, head: str,
                      now: dt.datetime | None = None) -> AuditHeadReport:
    """Keep a device's newest audit chain head and say whether its history went backwards or changed.

    The laptop's chain only grows, so a lower sequence means entries were removed (a crash wiped unanchored ones, a
    backup was restored, or someone cut the log) and the same sequence with another hash means an entry was
    rewritten. Either is kept as the device's alert, and the new head becomes the one later reports are compared
    with, so one incident raises one alert rather than one per sync. The row is locked first: two syncs of one
    laptop on two replicas are compared one after the other.
    """
    now = now or utcnow()
    device = session.scalar(select(Device).where(Device.id == device_id).with_for_update())
    if device is None:
        raise DeviceError(f"no device has id {device_id}")
    status: AuditStatus = "recorded"
    alert: str | None = None
    if device.audit_seq is not None and device.audit_hash is not None:
        if seq < device.audit_seq:
            status, alert = "rewound", f"audit chain rewound from entry {device.audit_seq} to {seq}"
        elif seq == device.audit_seq:
            status = "unchanged" if head == device.audit_hash else "rewritten"
            if status == "rewritten":
                alert = f"audit entry {seq} reported with another hash than before"
    if alert is not None:
        device.audit_alert, device.audit_alert_at = alert, now
    device.audit_seq, device.audit_hash, device.audit_reported_at = seq, head, now
    session.flush()
    return AuditHeadReport(status, seq, head, alert)


def rows_changed(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched. `Session.execute` is typed as returning a `Result`; for DML it is the
    `CursorResult` that carries `rowcount`."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


# --- feedback -----------------------------------------------------------------------------------------------------


def canonical_sha256(payload: dict[str, Any]) -> str:
    """sha256 of the record as canonical JSON (sorted keys, no spaces, UTF-8): equal records, equal hashes."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """`status[i]` is 'accepted' or 'conflict' for records[i]; `new` holds the uuids stored by this call (each once,
    however many copies of it the batch held)."""

    status: list[Literal["accepted", "conflict"]]
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
    # Only the first record of each uuid is offered to the database: a later copy in the same batch is then
    # compared with it below exactly as a replay from another batch would be.
    first: dict[str, dict[str, Any]] = {}
    for row in rows:
        first.setdefault(row["uuid"], row)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(FeedbackRecord).on_conflict_do_nothing(index_elements=["uuid"]).returning(FeedbackRecord.uuid)
    new = frozenset(session.scalars(stmt, list(first.values())).all())
    stored = {
        uuid: sha256
        for uuid, sha256 in session.execute(
            select(FeedbackRecord.uuid, FeedbackRecord.payload_sha256)
            .where(FeedbackRecord.uuid.in_({r["uuid"] for r in rows}))
        )
    }
    status: list[Literal["accepted", "conflict"]] = [
        "accepted" if stored.get(r["uuid"]) == r["payload_sha256"] else "conflict" for r in rows]
    return IntakeResult(status, new)


def count_feedback(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(FeedbackRecord)) or 0


# --- registry -----------------------------------------------------------------------------------------------------


def get_model(session: Session, version: str) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.version == version))


def production_model(session: Session) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.stage == "production"))


def newest_staging_model(session: Session) -> ModelVersion | None:
    """The staging model with the highest version (by the clinics' version order), for testers."""
    staging = session.scalars(select(ModelVersion).where(ModelVersion.stage == "staging")).all()
    return max(staging, key=lambda m: version_key(m.version), default=None)


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


# --- rate limits --------------------------------------------------------------------------------------------------


def take_rate_token(session: Session, key: str, now: float, interval: float, burst: int) -> float:
    """Charge one request to `key`'s bucket; 0.0 when it may go ahead, else the seconds until it may.

    GCRA (the token bucket written as one timestamp): a caller may be at most `burst` intervals ahead of now. The
    check and the charge are one INSERT … ON CONFLICT DO UPDATE … WHERE, so on PostgreSQL concurrent requests of one
    caller on any number of replicas queue on the row and each sees the others' charges; a refused request changes
    nothing. `now` is the caller's clock (Unix seconds): replicas must keep time (NTP), as they must for tokens'
    and sessions' expiry anyway.
    """
    bucket = RateLimitBucket.__table__.c
    start = case((bucket.tat > literal(now, Float), bucket.tat), else_=literal(now, Float))
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(RateLimitBucket).values(key=key, tat=now + interval)
        .on_conflict_do_update(index_elements=[bucket.key], set_={"tat": start + interval},
                               where=start + interval - now <= burst * interval)
        .returning(bucket.tat)
    )
    if session.execute(stmt).first() is not None:
        return 0.0
    tat = session.scalar(select(RateLimitBucket.tat).where(RateLimitBucket.key == key)) or now
    return max(max(tat, now) + interval - now - burst * interval, 1e-3)


def forget_full_rate_buckets(session: Session, now: float) -> int:
    """Delete buckets that have filled up again (the same as no row), so the table follows active callers."""
    result = session.execute(delete(RateLimitBucket).where(RateLimitBucket.tat < now))
    return rows_changed(result)
