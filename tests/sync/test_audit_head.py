"""The audit chain head leaves the laptop at every sync and the service keeps it per device (issue 14, point 9).

A real `vereda-server` and a real clinic store: after `run_sync`, the service holds a (sequence, hash) that is an
entry of the laptop's own audit log; a later sync reports a newer one; and a head that goes backwards is flagged at
the centre whatever the laptop says about itself.
"""

from __future__ import annotations

from typing import Any

from app.sync.client import CentralClient
from app.sync.enrollment import load_enrollment
from app.sync.run import run_sync
from tests.server.helpers import Server, open_sessions
from tests.sync.conftest import FAST_RETRY, Clinic, close_encounters, direct, enroll_clinic
from tests.sync.proxy import FaultProxy


def held_head(database: str, device_id: int) -> tuple[int | None, str | None, str | None]:
    from server.db.models import Device

    with open_sessions(database)() as session:
        device = session.get(Device, device_id)
        assert device is not None
        return device.audit_seq, device.audit_hash, device.audit_alert


def test_every_sync_sends_the_audit_chain_head_and_the_centre_sees_it_go_back(
        clinic: Clinic, answers: Any, server: Server, proxy: FaultProxy) -> None:
    enrollment = enroll_clinic(clinic, proxy.url, server)
    close_encounters(clinic, answers, 3)
    with clinic.doctor() as doctor:
        run_sync(direct(doctor), clinic.data_dir, retry=FAST_RETRY, update_models=False)
    seq, head, alert = held_head(server.database, enrollment.device_id)
    assert seq is not None and alert is None
    with clinic.admin() as admin:
        entries = {e.seq: e.entry_hash for e in admin.audit.entries(limit=500)}
    assert entries[seq] == head  # the head the centre keeps is an entry of the laptop's own chain
    assert proxy.count("/v1/device/audit-head") == 1

    close_encounters(clinic, answers, 2)
    with clinic.doctor() as doctor:
        run_sync(direct(doctor), clinic.data_dir, retry=FAST_RETRY, update_models=False)
    newer, _, alert = held_head(server.database, enrollment.device_id)
    assert newer is not None and newer > seq and alert is None

    # A laptop whose newest entries were cut (or restored from an older backup) reports an older head.
    with clinic.doctor() as doctor:
        token = load_enrollment(doctor).token  # type: ignore[union-attr]
    with CentralClient(proxy.url, token, FAST_RETRY) as client:
        verdict = client.report_audit_head(seq, head)  # type: ignore[arg-type]
    assert verdict is not None and verdict["status"] == "rewound"
    assert held_head(server.database, enrollment.device_id)[2] == f"audit chain rewound from entry {newer} to {seq}"
