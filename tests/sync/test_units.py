"""The sync client's small parts without a server: messages, the record mapping, backoff, URLs, versions, sealed
files, the store's outbox states and setting rules, and the probe's deadline."""

from __future__ import annotations

import datetime as dt
import re
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from app.core.bundle import is_newer
from app.core.sealed_file import SealedFileError, open_sealed, read_header, seal, token_key_material
from app.store import StoreError
from app.store.config_vars import CENTRAL_URL, DEVICE_TOKEN, LAST_SYNC, MODE
from app.sync.client import RetryPolicy, normalise_server_url, probe
from app.sync.messages import MESSAGES, SyncError
from app.sync.outbox import UnmappableRow, iso_week, record_uuid, service_record
from tests.server.helpers import SHIPPED_VERSION
from tests.sync.conftest import Clinic, close_encounters, direct

PLACEHOLDER = re.compile(r"{(\w+)}")


def test_both_languages_have_every_message_with_the_same_placeholders() -> None:
    for code, entry in MESSAGES.items():
        assert set(entry) == {"es", "en"}, code
        assert set(PLACEHOLDER.findall(entry["es"])) == set(PLACEHOLDER.findall(entry["en"])), code
    with pytest.raises(KeyError):
        SyncError("no_such_message")


def test_record_uuid_is_a_stable_version_8_uuid_of_the_encounter_pseudonym() -> None:
    pseudonym = "9c2f" * 8
    value = uuid.UUID(record_uuid(pseudonym))
    assert value.version == 8 and value.variant == uuid.RFC_4122
    assert record_uuid(pseudonym) == str(value) and record_uuid("0" * 32) != str(value)


def test_the_service_record_is_built_from_the_outbox_payload(clinic: Clinic, answers: Any) -> None:
    close_encounters(clinic, answers, 2)
    with clinic.doctor() as doctor:
        rows = doctor.outbox.pending()
    record = service_record(rows[1].payload, rows[1].created_at, "puesto-1234")
    assert set(record) == {"uuid", "clinic_id", "pseudonym", "week", "request", "response_summary",
                           "confirmed_diagnosis", "model_version"}
    assert record["request"]["age"] == 90.0 and "tos" in record["request"]["symptoms"]  # 95 -> 90; "Tos" -> "tos"
    assert record["request"]["hpo_terms"] == ["HP:0002090"] and "duration_days" not in record["request"]
    assert record["response_summary"]["top_condition"] == answers[1][1]["top_conditions"][0]["code"]
    assert record["confirmed_diagnosis"] == "J18.9" and record["model_version"] == SHIPPED_VERSION
    assert record == service_record(rows[1].payload, rows[1].created_at, "puesto-1234")  # replays are identical
    from server.schemas import FeedbackRecordCreate

    FeedbackRecordCreate.model_validate(record)  # the service's own schema accepts it
    with pytest.raises(UnmappableRow):
        service_record({**rows[0].payload, "format": 2}, rows[0].created_at, "puesto-1234")
    with pytest.raises(UnmappableRow):
        service_record({k: v for k, v in rows[0].payload.items() if k != "prediction"}, rows[0].created_at, "x")
    assert iso_week(dt.datetime(2027, 1, 1, tzinfo=dt.UTC)) == "2026-W53"


def test_backoff_grows_is_bounded_jittered_and_honours_retry_after() -> None:
    low = RetryPolicy(base_delay=1, multiplier=2, max_delay=10, jitter=0.5, random=lambda: 0.0)
    high = RetryPolicy(base_delay=1, multiplier=2, max_delay=10, jitter=0.5, random=lambda: 1.0)
    assert [low.delay(k) for k in range(5)] == [0.5, 1.0, 2.0, 4.0, 5.0]
    assert [high.delay(k) for k in range(5)] == [1.0, 2.0, 4.0, 8.0, 10.0]
    assert low.delay(0, retry_after=3) == 3 and low.delay(0, retry_after=600) == 10
    slept: list[float] = []
    RetryPolicy(sleep=slept.append, random=lambda: 0.5).wait(2)
    assert slept == [1.5]


def test_server_urls() -> None:
    assert normalise_server_url(" https://central.example.org/ ") == "https://central.example.org"
    assert normalise_server_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert normalise_server_url("http://localhost:8000/vereda/") == "http://localhost:8000/vereda"
    assert normalise_server_url("http://10.0.0.5:8000", allow_http=True) == "http://10.0.0.5:8000"
    for bad, code in (("ftp://x", "invalid_url"), ("central.example.org", "invalid_url"),
                      ("https://x.org/?a=1", "invalid_url"), ("https://x.org:99999", "invalid_url"),
                      ("http://10.0.0.5:8000", "insecure_url")):
        with pytest.raises(SyncError) as info:
            normalise_server_url(bad)
        assert info.value.code == code, bad


def test_versions_compare_as_numbers() -> None:
    assert is_newer("2026.11.10", "2026.11.9") and is_newer("2027.1.0", "2026.12.31")
    assert not is_newer("2026.11.1", "2026.11.1") and not is_newer("2026.9.0", "2026.11.1")


def test_sealed_files_open_only_with_the_right_key_and_kind() -> None:
    key = token_key_material("token-de-prueba")
    data = seal("feedback", {"records": [{"a": 1}]}, key_material=key, device_id=3, clinic_id="c-1", count=1)
    header, payload = open_sealed(data, key_material=key, kind="feedback")
    assert payload == {"records": [{"a": 1}]} and header["device_id"] == 3 and read_header(data)["count"] == 1
    with pytest.raises(SealedFileError, match="altered"):
        open_sealed(data, key_material=token_key_material("otro"), kind="feedback")
    with pytest.raises(SealedFileError, match="not a receipt"):
        open_sealed(data, key_material=key, kind="receipt")
    with pytest.raises(SealedFileError):
        read_header(b"\x1f\x8b not json")


def test_refused_rows_leave_the_queue_and_are_counted(clinic: Clinic, answers: Any) -> None:
    close_encounters(clinic, answers, 3)
    with clinic.doctor() as doctor:
        rows = doctor.outbox.pending()
        doctor.outbox.mark_failed([rows[0].id], "timeout")  # a transient failure: still pending
        doctor.outbox.mark_refused([rows[1].id], "invalid invalid_record records[0].week")
        doctor.outbox.mark_sent([rows[2].id])
        assert [r.id for r in doctor.outbox.pending()] == [rows[0].id]
        assert doctor.outbox.counts() == {"pending": 1, "refused": 1, "sent": 1}


def test_a_doctor_writes_the_sync_state_but_not_the_clinic_settings(clinic: Clinic) -> None:
    with clinic.doctor() as doctor:
        doctor.settings.set(LAST_SYNC, "2026-11-26T10:00:00Z")
        doctor.settings.set(DEVICE_TOKEN, "secreto-del-equipo")
        with pytest.raises(StoreError) as info:
            doctor.settings.set(MODE, "cloud")
        assert info.value.code == "not_allowed"
        with pytest.raises(StoreError):
            doctor.settings.set(CENTRAL_URL, "https://elsewhere.example.org")
    with clinic.admin() as admin:
        entries = [e for e in admin.audit.entries(limit=50) if e.subject == "setting:device_token"]
        assert [e.detail for e in entries] == [{"set": True}]
        assert admin.settings.get(DEVICE_TOKEN) == "secreto-del-equipo"


def test_the_probe_answers_within_its_deadline_and_never_raises(tmp_path: Path) -> None:
    assert probe(None).reachable is False
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never answers
    try:
        started = time.monotonic()
        result = probe(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
        assert result.reachable is False and time.monotonic() - started < 1.5
    finally:
        silent.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    assert probe(f"http://127.0.0.1:{closed_port}", timeout=0.5).reachable is False


def test_sync_needs_an_enrollment(clinic: Clinic) -> None:
    from app.sync.run import run_sync, sync_status

    with clinic.doctor() as doctor:
        with pytest.raises(SyncError) as info:
            run_sync(direct(doctor), clinic.data_dir)
        assert info.value.code == "not_enrolled"
        status = sync_status(doctor, clinic.data_dir)
    assert status["enrolled"] is False and status["auto_sync"] is False and status["mode"] == "offline"
    assert status["pending"] == 0 and status["model_version"] == SHIPPED_VERSION


def test_the_sync_package_imports_no_qt_no_build_tools_and_not_the_server() -> None:
    from tests.test_layering import offenders

    assert not offenders("app/sync", ("PySide6", "shiboken6", "model_export", "server", "sklearn"))
