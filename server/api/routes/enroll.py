"""POST /v1/enroll: a one-time code from `vereda-server enroll-code` becomes a device token."""

from __future__ import annotations

from fastapi import APIRouter, status

from server.api.deps import WriteSessionDep
from server.api.errors import ApiError
from server.core import metrics
from server.db import crud
from server.schemas import EnrollCreate, EnrollPublic, ErrorPublic

router = APIRouter(tags=["enrollment"])


@router.post(
    "/enroll", status_code=status.HTTP_201_CREATED, response_model=EnrollPublic,
    responses={401: {"model": ErrorPublic, "description": "unknown, used or expired code"}},
)
def enroll(body: EnrollCreate, session: WriteSessionDep) -> EnrollPublic:
    """Spend the code (once, across all processes) and return the device's token, which is shown only now.

    With `previous_token` (a laptop enrolling again) the device that token belongs to is revoked in the same
    transaction; a token that is unknown or already revoked changes nothing and is not an error."""
    try:
        device, token = crud.redeem_enrollment_code(session, body.code, previous_token=body.previous_token)
    except crud.EnrollmentError as exc:
        session.rollback()
        raise ApiError(401, exc.code, str(exc), field="code") from None
    clinic = device.clinic
    session.commit()
    metrics.ENROLLMENTS.labels(clinic.public_id).inc()
    return EnrollPublic(device_id=device.id, device_token=token, clinic_id=clinic.public_id, clinic_name=clinic.name)
