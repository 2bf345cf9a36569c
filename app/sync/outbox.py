"""Pushing the feedback outbox to the central service: the record the service accepts, batches, and acknowledgement.

The outbox row (app/store/feedback.py, format 1) is written when the doctor closes an encounter; this module turns it
into the service's feedback record (server/schemas.py `FeedbackRecordCreate`, docs/api.md) at send time:

- `uuid`: the encounter's keyed pseudonym (128 bits of HMAC) written as a UUID. It is stable across retries, runs
  and USB exports, so the service's idempotency holds, and reveals nothing the pseudonym does not.
- `clinic_id`: the clinic id the service gave at enrollment (the laptop's own random clinic id stays here).
- `pseudonym`: the patient's keyed pseudonym (HMAC under the clinic secret).
- `week`: ISO week of the row's creation time, which is the closing time (the payload keeps only the month).
- `request`: age (years; 90 for anyone older than 89), sex, duration, symptoms (keys lower-cased), vitals, HPO terms,
  and `excluded_hpo_terms` (looked for and absent) only when the visit has some, so older rows replay byte-identical.
- `response_summary`: the model's state, its top condition and the attention flag.
- `confirmed_diagnosis`, `model_version`: the doctor's code; the version of the model that answered.

Everything else in the payload (probabilities, rare-disease scores, red-flag codes, the engine) stays on the laptop.
The mapping is a pure function of the row and the enrollment, so a replay sends byte-identical records.

Acknowledgement rule: a row is marked sent only when the service answered `accepted` for it (a first store or an
identical replay); `conflict`, `invalid` and `rejected` mark it refused with the service's reason (never retried,
counted in the summary); a row the client cannot even map is refused locally the same way. A batch that fails as a
whole (no connection, 5xx after the retries) leaves every row pending for the next run. Nothing is ever deleted.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from app.core.contract import HPO_ID, MAX_HPO_TERMS
from app.sync.client import RecordResult
from app.sync.messages import SyncError

if TYPE_CHECKING:
    from app.store.records import OutboxRecord
    from app.store.store import ClinicStore

log = logging.getLogger(__name__)

T = TypeVar("T")


class StoreCall(Protocol):
    """Runs a function with the store on the thread that owns it and returns its result.

    The CLI passes `lambda fn: fn(store)`; the desktop app passes one that hops to its database worker, e.g.
    `lambda fn: tasks.run_database(lambda: fn(store), on_error=lambda _e: None).result()`, so the network waits
    happen on a pool thread while every store call stays on the one database thread (the store is not thread-safe).
    A protocol with a generic `__call__`, so each call's result keeps its own type.
    """

    def __call__(self, fn: Callable[[ClinicStore], T], /) -> T: ...



# Store calls built outside the loops that use them, so each binds its own values (no late-binding lambdas).
def pending(limit: int) -> Callable[[ClinicStore], list[OutboxRecord]]:
    return lambda store: store.outbox.pending(limit)


def mark_refused(ids: list[int], reason: str) -> Callable[[ClinicStore], None]:
    return lambda store: store.outbox.mark_refused(ids, reason)


BATCH_SIZE = 500  # ~300 KB per request: docs/api.md's advice (the service takes up to 1000 and 1 MiB)
MIN_BATCH = 1
PAYLOAD_FORMAT = 1


class FeedbackSender(Protocol):
    def push_feedback(self, records: list[dict[str, Any]]) -> list[RecordResult]: ...


class UnmappableRow(ValueError):
    """An outbox row the client cannot turn into a service record (unknown format, missing fields)."""


def record_uuid(encounter_pseudonym: str) -> str:
    """The record's UUID: the encounter pseudonym's 128 bits, marked as an RFC 9562 version-8 (custom) UUID."""
    value = int(encounter_pseudonym[:32], 16)
    value &= ~(0xF000 << 64)
    value |= 0x8000 << 64  # version 8
    value &= ~(0xC000 << 48)
    value |= 0x8000 << 48  # RFC variant
    return str(uuid.UUID(int=value))


def iso_week(moment: dt.datetime) -> str:
    year, week, _ = moment.astimezone(dt.UTC).isocalendar()
    return f"{year}-W{week:02d}"


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def excluded_terms(findings: dict[str, Any]) -> list[str]:
    """The visit's absent findings, checked as the contract checks them (HPO ids, at most MAX_HPO_TERMS, never also
    present); a stored visit passed the contract, so a failure here means a damaged row. Raises UnmappableRow."""
    raw = findings.get("excluded_hpo_terms") or []
    if not isinstance(raw, list) or len(raw) > MAX_HPO_TERMS:
        raise UnmappableRow(f"excluded_hpo_terms must be a list of at most {MAX_HPO_TERMS} HPO ids")
    terms: list[str] = []
    for term in raw:
        value = term.strip().upper() if isinstance(term, str) else ""
        if not HPO_ID.match(value):
            raise UnmappableRow(f"excluded_hpo_terms: {term!r} is not an HPO id")
        if value not in terms:
            terms.append(value)
    present = {str(t).strip().upper() for t in findings.get("hpo_terms") or []}
    clash = sorted(present.intersection(terms))
    if clash:
        raise UnmappableRow(f"excluded_hpo_terms: {', '.join(clash)} both present and excluded")
    return terms


def service_record(payload: dict[str, Any], created_at: dt.datetime, clinic_id: str) -> dict[str, Any]:
    """The service's feedback record for one outbox payload (see the module docstring). Raises UnmappableRow."""
    if payload.get("format") != PAYLOAD_FORMAT:
        raise UnmappableRow(f"unknown outbox format {payload.get('format')!r}")
    try:
        findings = payload["request"]
        prediction = payload["prediction"]
        top = prediction["top_conditions"][0]["code"]
        request: dict[str, Any] = {
            "age": findings["age"],
            "sex": findings["sex"],
            "symptoms": {str(k).lower(): v for k, v in (findings.get("symptoms") or {}).items()},
            "vitals": {str(k): v for k, v in (findings.get("vitals") or {}).items() if v is not None},
            "hpo_terms": list(findings.get("hpo_terms") or []),
        }
        excluded = excluded_terms(findings)
        if excluded:
            request["excluded_hpo_terms"] = excluded
        duration = _number(findings.get("duration_days"))
        if duration is not None:
            request["duration_days"] = duration
        return {
            "uuid": record_uuid(payload["encounter"]),
            "clinic_id": clinic_id,
            "pseudonym": payload["patient"],
            "week": iso_week(created_at),
            "request": request,
            "response_summary": {
                "severity": prediction["severity"],
                "top_condition": top,
                "requires_immediate_attention": bool(prediction["requires_immediate_attention"]),
            },
            "confirmed_diagnosis": payload["confirmed"]["code"],
            "model_version": (prediction.get("model") or {})["version"],
        }
    except UnmappableRow:
        raise
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise UnmappableRow(f"outbox payload lacks {exc}") from None


@dataclass
class PushSummary:
    """What one push did. `refused` counts records the service (or the mapping) refused, by status."""

    pushed: int = 0  # records sent (a record re-sent after a lost answer counts once)
    acknowledged: int = 0  # rows marked sent
    refused: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    error: SyncError | None = None  # why the push stopped early (the rest stays pending)

    @property
    def failed(self) -> int:
        return sum(self.refused.values())


def _group_by_reason(items: Iterable[tuple[int, str]]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for row_id, reason in items:
        groups.setdefault(reason, []).append(row_id)
    return groups


def apply_results(call_store: StoreCall, row_ids: list[int], results: list[RecordResult],
                  summary: PushSummary) -> None:
    """Mark rows from the service's per-record answers (accepted -> sent; anything else -> refused)."""
    accepted = [rid for rid, r in zip(row_ids, results, strict=True) if r.status == "accepted"]
    refused = [(rid, r.reason) for rid, r in zip(row_ids, results, strict=True) if r.status != "accepted"]

    def mark(store: ClinicStore) -> None:
        if accepted:
            store.outbox.mark_sent(accepted)
        for reason, ids in _group_by_reason(refused).items():
            store.outbox.mark_refused(ids, reason)

    call_store(mark)
    summary.acknowledged += len(accepted)
    for r in results:
        if r.status != "accepted":
            summary.refused[r.status] += 1
            log.warning("record %s refused by the service: %s", r.uuid, r.reason)


def push_outbox(call_store: StoreCall, sender: FeedbackSender, clinic_id: str, *,
                batch_size: int = BATCH_SIZE, progress: Callable[[PushSummary], None] | None = None) -> PushSummary:
    """Send every pending outbox row in batches until none is left or the service cannot be reached.

    Never raises for a network failure: the summary's `error` says why it stopped, and the rows not acknowledged stay
    pending. An invalid token stops the push too (every batch would fail the same way).
    """
    summary = PushSummary()
    seen: set[int] = set()
    size = max(MIN_BATCH, batch_size)
    while True:
        rows = call_store(pending(size))
        rows = [r for r in rows if r.id not in seen]
        if not rows:
            return summary
        records: list[dict[str, Any]] = []
        row_ids: list[int] = []
        unmappable: list[tuple[int, str]] = []
        for row in rows:
            try:
                records.append(service_record(row.payload, row.created_at, clinic_id))
                row_ids.append(row.id)
            except UnmappableRow as exc:
                unmappable.append((row.id, f"unmappable: {exc}"))
        if unmappable:
            for reason, ids in _group_by_reason(unmappable).items():
                call_store(mark_refused(ids, reason))
            summary.refused["unmappable"] += len(unmappable)
            seen.update(rid for rid, _ in unmappable)
        if not records:
            continue
        try:
            results = sender.push_feedback(records)
        except SyncError as exc:
            if exc.code == "batch_refused" and exc.params.get("status") in (413, 422) and len(records) > MIN_BATCH \
                    and exc.params.get("server_code") in ("body_too_large", "too_many_records"):
                size = max(MIN_BATCH, len(records) // 2)  # the service's limits are lower than ours: halve and go on
                log.info("batch of %d refused as too large; trying %d", len(records), size)
                continue
            summary.error = exc
            return summary
        seen.update(row_ids)
        summary.pushed += len(records)
        summary.batches += 1
        apply_results(call_store, row_ids, results, summary)
        if progress is not None:
            progress(summary)
