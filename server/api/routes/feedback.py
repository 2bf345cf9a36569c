"""POST /v1/feedback:batch: de-identified confirmed outcomes from a clinic, stored exactly once.

Records are validated one by one, so one bad record is answered in its place ("invalid") and the rest are stored.
Each record's client UUID makes the intake idempotent across retries, processes and replicas (see crud): a replay
gets the same answer as the first send, and a reused UUID with different content is a "conflict". The checks live
in server/intake.py, shared with `vereda-server import-feedback` (USB files).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body

from server.api.deps import CloudEngineDep, DeviceDep, SettingsDep, WriteSessionDep
from server.api.errors import ApiError
from server.core import metrics
from server.intake import take_in
from server.schemas import ErrorPublic, FeedbackBatchPublic

log = logging.getLogger(__name__)
router = APIRouter(tags=["feedback"])

BATCH_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FeedbackBatchCreate"}}},
    }
}


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

    intake = take_in(session, items, clinic_id=device.clinic_id, clinic_pk=device.clinic_pk, device_id=device.id,
                     vocabulary=cloud.current().vocabulary)
    session.commit()

    answer = intake.answer
    clinic = device.clinic_id
    metrics.FEEDBACK.labels(clinic, "accepted").inc(intake.new)
    # Never negative by construction (take_in counts each stored uuid once); the max() is there because the rows are
    # already committed, and a counter must not turn a stored batch into a 500 the client would resend.
    metrics.FEEDBACK.labels(clinic, "duplicate").inc(max(answer.accepted - intake.new, 0))
    for status in ("conflict", "invalid", "rejected"):
        if getattr(answer, status):
            metrics.FEEDBACK.labels(clinic, status).inc(getattr(answer, status))
    if answer.accepted != len(items):
        log.info("batch from %s: %s", clinic, answer.model_dump(include={"accepted", "conflict", "invalid",
                                                                         "rejected"}))
    return answer
