"""USB fallback for clinics that are never online: feedback out as one sealed file, receipts and models in.

- `export_feedback()` writes every pending outbox row, mapped exactly as the HTTP push maps it (same record UUIDs,
  so the service's idempotency holds across both roads), into one sealed file (app/core/sealed_file.py: AES-256-GCM,
  key derived from the device token). Rows stay pending: exporting is not an acknowledgement.
- IT staff import it on the central service with `vereda-server import-feedback FILE --receipt RECEIPT`, which
  stores each record once and writes a sealed receipt with the per-record statuses.
- `import_receipt()` reads that receipt back on the laptop and marks rows exactly as an HTTP answer would
  (accepted -> sent; conflict/invalid/rejected -> refused).
- `import_bundle()` installs a model bundle archive (the `tar.gz` the service serves; `vereda-server export-model`
  writes one) through the same checks as a network update (app/sync/updates.py).

`import_file()` tells a receipt from a bundle by its first bytes, for a single "Import from USB" button.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.files import write_atomic
from app.core.sealed_file import SealedFileError, open_sealed, read_header, seal, token_key_material
from app.sync.client import RecordResult
from app.sync.enrollment import load_enrollment
from app.sync.messages import SyncError
from app.sync.outbox import (
    PushSummary,
    StoreCall,
    UnmappableRow,
    apply_results,
    mark_refused,
    record_uuid,
    service_record,
)
from app.sync.updates import ModelUpdate, active_version, install_archive, record_outcome

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from app.sync.enrollment import Enrollment

log = logging.getLogger(__name__)

MAX_EXPORT = 100_000
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class FeedbackExport:
    path: Path
    count: int
    unmappable: int


def _require_enrollment(call_store: StoreCall) -> Enrollment:
    enrollment = call_store(load_enrollment)
    if enrollment is None:
        raise SyncError("not_enrolled")
    return enrollment


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, data)


def export_feedback(call_store: StoreCall, target: Path) -> FeedbackExport:
    """Seal every pending feedback record into `target`. Raises SyncError when nothing is pending or the laptop
    is not enrolled (the file is sealed with the device's key, so the service must know the device)."""
    enrollment = _require_enrollment(call_store)
    rows = call_store(lambda s: s.outbox.pending(MAX_EXPORT))
    records, unmappable = [], []
    for row in rows:
        try:
            records.append(service_record(row.payload, row.created_at, enrollment.clinic_id))
        except UnmappableRow as exc:
            unmappable.append((row.id, f"unmappable: {exc}"))
    for row_id, reason in unmappable:
        call_store(mark_refused([row_id], reason))
    if not records:
        raise SyncError("usb_nothing_to_export")
    data = seal("feedback", {"records": records}, key_material=token_key_material(enrollment.token),
                device_id=enrollment.device_id, clinic_id=enrollment.clinic_id, count=len(records))
    _write_atomically(Path(target), data)
    call_store(lambda s: s.audit.record_sync("usb_export", {"count": len(records), "file": Path(target).name}))
    return FeedbackExport(Path(target), len(records), len(unmappable))


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SyncError("usb_unreadable", path=str(path), detail=exc.strerror or type(exc).__name__) from None


def import_receipt(call_store: StoreCall, path: Path) -> PushSummary:
    """Mark outbox rows from a receipt the central service sealed for this device."""
    enrollment = _require_enrollment(call_store)
    data = _read(path)
    try:
        header, payload = open_sealed(data, key_material=token_key_material(enrollment.token), kind="receipt")
    except SealedFileError as exc:
        raise SyncError("usb_invalid_file", path=str(path), detail=str(exc)) from None
    if header["device_id"] != enrollment.device_id or header["clinic_id"] != enrollment.clinic_id:
        raise SyncError("usb_wrong_device", path=str(path))
    try:
        by_uuid = {str(r["uuid"]): r for r in payload["results"] if r.get("uuid")}
    except (KeyError, TypeError, AttributeError):
        raise SyncError("usb_invalid_file", path=str(path), detail="no results") from None
    summary = PushSummary()
    row_ids: list[int] = []
    results: list[RecordResult] = []
    for row in call_store(lambda s: s.outbox.pending(MAX_EXPORT)):
        try:
            answer = by_uuid.get(record_uuid(row.payload["encounter"]))
        except (KeyError, TypeError, ValueError):
            continue
        if answer is None or answer.get("status") not in ("accepted", "conflict", "invalid", "rejected"):
            continue
        error = answer.get("error") or {}
        row_ids.append(row.id)
        results.append(RecordResult(len(results), answer["uuid"], answer["status"], error.get("code"),
                                    error.get("field"), error.get("message")))
    if results:
        apply_results(call_store, row_ids, results, summary)
    summary.pushed = len(results)
    call_store(lambda s: s.audit.record_sync("usb_receipt", {"acknowledged": summary.acknowledged,
                                                             "refused": summary.failed, "file": Path(path).name}))
    return summary


def import_bundle(call_store: StoreCall | None, path: Path, data_dir: Path, *,
                  public_key: Ed25519PublicKey | None = None, today: dt.date | None = None) -> ModelUpdate:
    """Install a bundle archive from a file with every check of a network update. Never raises for a refusal:
    the result says `refused` and why (and the audit log has it)."""
    active = active_version(data_dir)
    if not Path(path).is_file():
        raise SyncError("usb_unreadable", path=str(path), detail="not a file")
    try:
        installed = install_archive(Path(path), data_dir, source="usb", public_key=public_key, today=today)
        result = ModelUpdate("installed", installed.version, installed.version, installed=installed)
    except SyncError as exc:
        result = ModelUpdate("refused", active, None, exc)
    record_outcome(call_store, result)
    return result


def import_file(call_store: StoreCall, path: Path, data_dir: Path, *,
                public_key: Ed25519PublicKey | None = None, lang: str = "es") -> dict[str, Any]:
    """One entry point for "Import from USB": a model bundle or a feedback receipt. Returns a JSON-able summary."""
    with contextlib.suppress(OSError), open(path, "rb") as fh:
        head = fh.read(2)
        if head == GZIP_MAGIC:
            return {"kind": "model", **import_bundle(call_store, path, data_dir, public_key=public_key).to_json(lang)}
    data = _read(path)
    try:
        kind = read_header(data)["kind"]
    except SealedFileError as exc:
        raise SyncError("usb_invalid_file", path=str(path), detail=str(exc)) from None
    if kind != "receipt":
        raise SyncError("usb_invalid_file", path=str(path), detail=f"a {kind} file is imported on the central "
                        "service, not here")
    summary = import_receipt(call_store, path)
    return {"kind": "receipt", "acknowledged": summary.acknowledged, "failed": summary.failed,
            "refused": dict(summary.refused)}

