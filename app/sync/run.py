"""One sync run (enroll if a code is waiting, push the outbox, check for a model update) and the status the app shows.

`run_sync()` is what `vereda sync` and the desktop app's "Sync now" (and its automatic sync) call. It never loses or
duplicates a record whatever the network does (app/sync/outbox.py), never raises for a network failure (the result
says what happened), and records the run in the audit log. `sync_status()` is the cheap read for the status bar.

When to sync on its own is the app's decision; `auto_sync_allowed(mode)` says whether the clinic's mode allows it:
in offline mode Vereda touches the network only when a person asks for it (`vereda sync`, "Sync now").

Threading: `run_sync()` waits on the network, so the app runs it on a pool thread and passes a `call_store` that
hops to its database thread (see app/sync/outbox.py `StoreCall`); `sync_status()` takes the store directly and runs
on the database thread.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.bundle import MANIFEST
from app.store.config_vars import CENTRAL_URL, LAST_SYNC, LAST_SYNC_RESULT, MODE
from app.sync.client import CentralClient, RetryPolicy
from app.sync.enrollment import complete_pending_enrollment, load_enrollment
from app.sync.messages import SyncError, text
from app.sync.outbox import BATCH_SIZE, PushSummary, StoreCall, push_outbox
from app.sync.predict import normalise_mode
from app.sync.updates import ModelUpdate, active_bundle_dir, active_version, read_active, update_from_service

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from app.store.store import ClinicStore

log = logging.getLogger(__name__)


def auto_sync_allowed(mode: Any) -> bool:
    return normalise_mode(mode) in ("hybrid", "cloud")


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SyncResult:
    """What a run did, as `vereda sync` prints it: pushed, acknowledged, pending, failed, model {status, version}."""

    push: PushSummary = field(default_factory=PushSummary)
    model: ModelUpdate | None = None
    counts: dict[str, int] = field(default_factory=dict)
    error: SyncError | None = None
    started_at: str = ""
    finished_at: str = ""

    @property
    def reached_service(self) -> bool:
        return self.error is None and self.push.error is None

    @property
    def complete(self) -> bool:
        """Everything pending was answered and the model check ran to a conclusion."""
        model_done = self.model is None or self.model.status != "interrupted"
        return self.reached_service and self.counts.get("pending", 0) == 0 and model_done

    def to_json(self, lang: str = "es") -> dict[str, Any]:
        model = self.model.to_json(lang) if self.model is not None else {"status": "not_checked", "version": None}
        out: dict[str, Any] = {
            "pushed": self.push.pushed,
            "acknowledged": self.push.acknowledged,
            "pending": self.counts.get("pending", 0),
            "failed": self.push.failed,
            "refused_total": self.counts.get("refused", 0),
            "refused": dict(self.push.refused),
            "model": model,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }
        error = self.error or self.push.error
        if error is not None:
            out["error"] = {"code": error.code, "message": error.message(lang)}
        if self.push.failed:
            out["warning"] = text("refused_records", lang, count=self.push.failed)
        return out


def reconcile_installed(call_store: StoreCall, data_dir: Path) -> None:
    """Make the store's record of the active bundle agree with the pointer on disk (after a crash between the
    two writes, or a rollback): the audit log then says which model answered."""
    bundle_dir = active_bundle_dir(data_dir)
    try:
        raw = (bundle_dir / MANIFEST).read_bytes()
    except OSError:
        return
    sha = hashlib.sha256(raw).hexdigest()
    pointer = read_active(data_dir)
    source = (pointer.source if pointer is not None and pointer.version else "shipped")[:20]

    def check(store: ClinicStore) -> None:
        import json

        current = store.bundles.active()
        if current is None or current.sha256 != sha:
            manifest = json.loads(raw)
            store.bundles.record_installed(version=str(manifest["version"]), sha256=sha, source=source,
                                           manifest=manifest)

    call_store(check)


def report_audit_head(call_store: StoreCall, client: CentralClient) -> dict[str, Any] | None:
    """Send the audit log's newest (sequence, hash) to the service, which keeps it per device: entries removed or
    rewritten here after they were reported then show at the centre, out of reach of whoever changed this laptop's
    database (docs/security.md). Best effort: a failure is logged and never fails the sync."""
    seq, head = call_store(lambda store: store.audit.chain_head())
    try:
        answer = client.report_audit_head(seq, head)
    except SyncError as exc:
        log.info("audit head not reported: %s", exc.code)
        return None
    if answer is not None and answer.get("status") in ("rewound", "rewritten"):
        log.warning("the central service found this laptop's audit history %s", answer["status"])
    return answer


def run_sync(call_store: StoreCall, data_dir: Path, *, batch_size: int = BATCH_SIZE,
             retry: RetryPolicy | None = None, update_models: bool = True,
             public_key: Ed25519PublicKey | None = None, today: dt.date | None = None,
             client_factory: Callable[..., CentralClient] | None = None,
             progress: Callable[[PushSummary], None] | None = None) -> SyncResult:
    """Enroll if a code waits, push the outbox, then check for a model update. Raises SyncError only when the
    laptop is not enrolled; every other failure is in the result (and the rows stay pending)."""
    result = SyncResult(started_at=_utc_now())
    factory = client_factory or CentralClient
    enrollment = complete_pending_enrollment(call_store, client_factory=lambda url: factory(url))
    if enrollment is None:
        raise SyncError("not_enrolled")
    reconcile_installed(call_store, data_dir)
    client = factory(enrollment.server_url, enrollment.token, retry or RetryPolicy())
    try:
        result.push = push_outbox(call_store, client, enrollment.clinic_id, batch_size=batch_size, progress=progress)
        if result.push.error is None:
            report_audit_head(call_store, client)
        if update_models and result.push.error is None:
            try:
                result.model = update_from_service(client, data_dir, call_store, public_key=public_key, today=today)
            except SyncError as exc:
                result.error = exc
    finally:
        client.close()
    result.counts = call_store(lambda s: s.outbox.counts())
    result.finished_at = _utc_now()

    def record(store: ClinicStore) -> None:
        summary = result.to_json("en")
        detail = {k: summary[k] for k in ("pushed", "acknowledged", "pending", "failed")}
        detail["model"] = summary["model"].get("status")
        if "error" in summary:
            detail["error"] = summary["error"]["code"]
        if result.reached_service:
            store.settings.set(LAST_SYNC, result.finished_at)
        store.settings.set(LAST_SYNC_RESULT, detail)
        store.audit.record_sync("run", detail)

    call_store(record)
    log.info("sync: %s", {k: v for k, v in result.to_json("en").items() if k != "warning"})
    return result


def sync_status(store: ClinicStore, data_dir: Path) -> dict[str, Any]:
    """What the status bar shows. Cheap (a few indexed counts); runs on the database thread."""
    enrollment = load_enrollment(store)
    mode = normalise_mode(store.settings.get(MODE))
    return {
        "mode": mode,
        "auto_sync": auto_sync_allowed(mode) and enrollment is not None,
        "enrolled": enrollment is not None,
        "server": enrollment.server_url if enrollment else store.settings.get(CENTRAL_URL),
        **store.outbox.counts(),
        "last_sync": store.settings.get(LAST_SYNC),
        "last_sync_result": store.settings.get(LAST_SYNC_RESULT),
        "model_version": active_version(data_dir),
        "model_dir": str(active_bundle_dir(data_dir)),
    }
