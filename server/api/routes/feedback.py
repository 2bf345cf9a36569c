"""POST /v1/feedback:batch: de-identified confirmed outcomes from a clinic, stored exactly once.

Records are validated one by one, so one bad record is answered in its place ("invalid") and the rest are stored.
Each record's client UUID makes the intake idempotent across retries, processes and replicas (see crud): a replay
gets the same answer as the first send, and a reused UUID with different content is a "conflict".
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import ValidationError

from app.core.vocabulary import Vocabulary
from server.api.deps import CloudEngineDep, DeviceDep, SettingsDep, WriteSessionDep
from server.api.errors import ApiError, validation_message
from server.core import metrics
from server.db import crud
from server.schemas import ErrorDetail, ErrorPublic, FeedbackBatchPublic, FeedbackRecordCreate, FeedbackRecordStatus

log = logging.getLogger("vereda.server.feedback")
UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
router = APIRouter(tags=["feedback"])

BATCH_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FeedbackBatchCreate"}}},
    }
}


def _unknown_key(record: FeedbackRecordCreate, vocabulary: Vocabulary) -> tuple[str, str] | None:
    """(field, message) when a symptom or vital key is not in the model's vocabulary, else None.

    The schema already keeps keys to snake_case identifiers; checking them against the vocabulary also keeps out
    anything that merely looks like one (`telefono_3001234567`). The key itself is not echoed, for that reason.
    """
    if not set(record.request.symptoms) <= set(vocabulary.symptom_keys):
        return "request.symptoms", "a key is not a symptom of the model's vocabulary (GET /v1/symptoms)"
    if not set(record.request.vitals) <= set(vocabulary.vital_keys):
        return "request.vitals", "a key is not a vital sign of the model's vocabulary (GET /v1/symptoms)"
    return None


def _uuid_of(item: Any) -> str | None:
    """The uuid of an invalid record when it has a well-formed one, so the client can match the answer."""
    value = item.get("uuid") if isinstance(item, dict) else None
    return value.lower() if isinstance(value, str) and UUID_PATTERN.match(value) else None


@router.post(
    "/feedback:batch", response_model=FeedbackBatchPublic, openapi_extra=BATCH_SCHEMA,
    responses={401: {"model": ErrorPublic}, 413: {"model": ErrorPublic}, 422: {"model": ErrorPublic},
               429: {"model": ErrorPublic}},
)
def feedback_batch(
    body: Annotated[Any, Body()], device: DeviceDep, session: WriteSessionDep, settings: SettingsDep,
    cloud: CloudEngineDep,
) -> FeedbackBatchPublic:
    """Store a batch; the answer has one status per record, in order (see FeedbackRecordStatus)."""
    if not isinstance(body, dict) or set(body) != {"records"} or not isinstance(body["records"], list):
        raise ApiError(422, "invalid_request", 'The body must be {"records": [ ... ]} and nothing else.', "records")
    items: list[Any] = body["records"]
    if not items:
        raise ApiError(422, "invalid_request", "The batch has no records.", "records")
    if len(items) > settings.max_batch_records:
        raise ApiError(422, "too_many_records",
                       f"A batch holds at most {settings.max_batch_records} records; got {len(items)}.", "records")

    vocabulary = cloud.current().vocabulary
    results: list[FeedbackRecordStatus | None] = [None] * len(items)
    valid: list[dict[str, Any]] = []
    positions: list[int] = []
    for i, item in enumerate(items):
        try:
            record = FeedbackRecordCreate.model_validate(item)
        except ValidationError as exc:
            field, message = validation_message(exc.errors(include_input=False, include_url=False))
            field = f"records[{i}].{field}" if field else f"records[{i}]"
            results[i] = FeedbackRecordStatus(index=i, uuid=_uuid_of(item), status="invalid",
                                              error=ErrorDetail(code="invalid_record", field=field, message=message))
            continue
        unknown = _unknown_key(record, vocabulary)
        if unknown is not None:
            results[i] = FeedbackRecordStatus(
                index=i, uuid=record.uuid, status="invalid",
                error=ErrorDetail(code="invalid_record", field=f"records[{i}].{unknown[0]}", message=unknown[1]),
            )
            continue
        if record.clinic_id != device.clinic_id:
            results[i] = FeedbackRecordStatus(
                index=i, uuid=record.uuid, status="rejected",
                error=ErrorDetail(code="wrong_clinic", field=f"records[{i}].clinic_id",
                                  message="The record names another clinic than the one this device is enrolled in."),
            )
            continue
        valid.append(record.model_dump(mode="json"))
        positions.append(i)

    intake = crud.store_feedback(session, valid, device.clinic_pk, device.id)
    session.commit()

    for i, record, status in zip(positions, valid, intake.status, strict=True):
        error = None
        if status == "conflict":
            error = ErrorDetail(code="uuid_conflict", field=f"records[{i}].uuid",
                                message="This uuid was already stored with different content; the stored record "
                                "is kept. A new record needs a new uuid.")
        results[i] = FeedbackRecordStatus(index=i, uuid=record["uuid"], status=status, error=error)  # type: ignore[arg-type]
    final = [r for r in results if r is not None]
    counts = {s: sum(1 for r in final if r.status == s) for s in ("accepted", "conflict", "invalid", "rejected")}

    new = sum(1 for r in valid if r["uuid"] in intake.new)
    clinic = device.clinic_id
    metrics.FEEDBACK.labels(clinic, "accepted").inc(new)
    metrics.FEEDBACK.labels(clinic, "duplicate").inc(counts["accepted"] - new)
    for status in ("conflict", "invalid", "rejected"):
        if counts[status]:
            metrics.FEEDBACK.labels(clinic, status).inc(counts[status])
    if counts["accepted"] != len(items):
        log.info("batch from %s: %s", clinic, counts)
    return FeedbackBatchPublic(**counts, results=final)
