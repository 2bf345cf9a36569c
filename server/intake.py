"""Feedback intake shared by `POST /v1/feedback:batch` and `vereda-server import-feedback` (USB files).

Both roads check records one by one with the same rules (strict schema, vocabulary keys, the device's own clinic)
and store them through `crud.store_feedback`, idempotent by record UUID, so a record that came on a USB stick and
again over the network (or twice on either) is stored once and answered `accepted` both times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.core.vocabulary import Vocabulary
from server.api.errors import validation_message
from server.db import crud
from server.schemas import ErrorDetail, FeedbackBatchPublic, FeedbackRecordCreate, FeedbackRecordStatus

UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
STATUSES = ("accepted", "conflict", "invalid", "rejected")


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


@dataclass(frozen=True)
class Intake:
    answer: FeedbackBatchPublic
    new: int  # records stored by this call (the others were replays, copies within the batch, or refused)


def take_in(session: Session, items: list[Any], *, clinic_id: str, clinic_pk: int, device_id: int | None,
            vocabulary: Vocabulary) -> Intake:
    """Check and store `items`; the caller commits. The answer has one status per record, in order."""
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
        if record.clinic_id != clinic_id:
            results[i] = FeedbackRecordStatus(
                index=i, uuid=record.uuid, status="rejected",
                error=ErrorDetail(code="wrong_clinic", field=f"records[{i}].clinic_id",
                                  message="The record names another clinic than the one this device is enrolled in."),
            )
            continue
        valid.append(record.model_dump(mode="json", exclude_unset=True))  # stored as sent, nothing added
        positions.append(i)

    intake = crud.store_feedback(session, valid, clinic_pk, device_id)
    for i, stored, status in zip(positions, valid, intake.status, strict=True):
        error = None
        if status == "conflict":
            error = ErrorDetail(code="uuid_conflict", field=f"records[{i}].uuid",
                                message="This uuid was already stored with different content; the stored record "
                                "is kept. A new record needs a new uuid.")
        results[i] = FeedbackRecordStatus(index=i, uuid=stored["uuid"], status=status, error=error)
    final = [r for r in results if r is not None]
    counts = {s: sum(1 for r in final if r.status == s) for s in STATUSES}
    # Each stored uuid once: two copies of one record in a batch are one new record and one replay.
    return Intake(FeedbackBatchPublic(**counts, results=final), len(intake.new))
