"""The calling device's own record: POST /v1/device/audit-head and POST /v1/device/revoke.

At every sync the laptop reports the head of its append-only audit log (sequence number and chain hash). The
service keeps the newest per device and flags a head that goes backwards or changes an entry it had already seen,
which the laptop alone cannot: its own check can be defeated by whoever holds the data key and rewrites the whole
chain, but not the copy of the head that already left the laptop (docs/security.md).

A laptop that is retired, or whose token may have leaked, can end its own access (`revoke`); administrators revoke
any device with `vereda-server device revoke`. Either way every process refuses the token from its next request.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter

from server.api.deps import DeviceDep, WriteSessionDep
from server.core import metrics
from server.db import crud
from server.schemas import AuditHeadCreate, AuditHeadPublic, DeviceRevokedPublic, ErrorPublic

log = logging.getLogger(__name__)
router = APIRouter(prefix="/device", tags=["devices"])
RESPONSES: dict[int | str, dict[str, object]] = {401: {"model": ErrorPublic}, 422: {"model": ErrorPublic},
                                                 429: {"model": ErrorPublic}}


@router.post("/audit-head", response_model=AuditHeadPublic, responses=RESPONSES)
def audit_head(body: AuditHeadCreate, device: DeviceDep, session: WriteSessionDep) -> AuditHeadPublic:
    """Keep the laptop's audit chain head; the answer says whether its history went on, stayed, or went back."""
    report = crud.report_audit_head(session, device.id, body.seq, body.hash)
    session.commit()
    if report.alert is not None:
        metrics.AUDIT_ALERTS.labels(device.clinic_id, report.status).inc()
        log.warning("device %d of %s: %s", device.id, device.clinic_id, report.alert)
    return AuditHeadPublic(status=report.status, seq=report.seq, hash=report.hash)


@router.post("/revoke", response_model=DeviceRevokedPublic, responses=RESPONSES)
def revoke(device: DeviceDep, session: WriteSessionDep) -> DeviceRevokedPublic:
    """End this device's access now: its token is refused from the next request on, by every process."""
    revoked = crud.revoke_device(session, device.id, "revoked by the device itself")
    session.commit()
    assert revoked.revoked_at is not None
    log.info("device %d of %s revoked itself", device.id, device.clinic_id)
    return DeviceRevokedPublic(device_id=revoked.id, revoked_at=revoked.revoked_at)
