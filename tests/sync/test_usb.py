"""The USB road: sealed feedback file -> `vereda-server import-feedback` -> sealed receipt -> outbox marked, with the
same idempotency as the network; tampered or foreign files refused; a model bundle installed from a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.store.config_vars import DEVICE_TOKEN
from app.sync.messages import SyncError
from app.sync.outbox import push_outbox
from app.sync.usb import export_feedback, import_file, import_receipt
from tests.server.helpers import Server, open_sessions, run_cli, signed_bundle
from tests.sync.conftest import FAST_RETRY, Clinic, close_encounters, direct, enroll_clinic, expected_uuids, stored


def import_on_server(server: Server, file: Path, receipt: Path) -> dict[str, Any]:
    """What IT staff run on the central service (in-process: the CLI itself is run once below)."""
    from server.core.config import Settings
    from server.usb_files import import_feedback_file

    cache = Settings.load(database_url=server.database).bundle_cache
    return import_feedback_file(open_sessions(server.database), cache, file, receipt)


def test_feedback_goes_out_on_a_stick_and_the_receipt_marks_it(clinic: Clinic, answers: Any, server: Server,
                                                                tmp_path: Path) -> None:
    enroll_clinic(clinic, server.url, server, name="Puesto de Salud Sin Red")
    close_encounters(clinic, answers, 6)
    stick = tmp_path / "stick"
    with clinic.doctor() as doctor:
        exported = export_feedback(direct(doctor), stick / "feedback.vereda")
        assert exported.count == 6 and doctor.outbox.counts()["pending"] == 6  # exported is not acknowledged
    raw = (stick / "feedback.vereda").read_bytes()
    assert b"fiebre" not in raw and b"A97" not in raw  # sealed: nothing clinical readable on the stick

    env = {"VEREDA_SERVER_DATA_DIR": str(tmp_path / "srv"), "VEREDA_SERVER_CACHE_DIR": str(tmp_path / "cache")}
    done = run_cli("import-feedback", str(stick / "feedback.vereda"), "--database", server.database,
                   "--receipt", str(stick / "receipt.vereda"), env=env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["accepted"], summary["new"], summary["records"]) == (6, 6, 6)
    again = import_on_server(server, stick / "feedback.vereda", stick / "receipt-2.vereda")
    assert (again["accepted"], again["new"]) == (6, 0)  # the same file twice: stored once

    with clinic.doctor() as doctor:
        marked = import_file(direct(doctor), stick / "receipt.vereda", clinic.data_dir)
        assert marked == {"kind": "receipt", "acknowledged": 6, "failed": 0, "refused": {}}
        assert doctor.outbox.counts() == {"pending": 0, "refused": 0, "sent": 6}
    held = stored(server.database)
    assert expected_uuids(clinic) <= set(held)


def test_a_record_sent_by_stick_and_by_network_is_stored_once(clinic: Clinic, answers: Any, server: Server,
                                                              tmp_path: Path) -> None:
    from app.sync.client import CentralClient
    from app.sync.enrollment import load_enrollment

    enroll_clinic(clinic, server.url, server, name="Puesto de Salud A Veces")
    close_encounters(clinic, answers, 3)
    before = len(stored(server.database))
    with clinic.doctor() as doctor:
        export_feedback(direct(doctor), tmp_path / "f.vereda")
        enrollment = load_enrollment(doctor)
        assert enrollment is not None
        with CentralClient(server.url, enrollment.token, FAST_RETRY) as client:
            assert push_outbox(direct(doctor), client, enrollment.clinic_id).acknowledged == 3
    result = import_on_server(server, tmp_path / "f.vereda", tmp_path / "r.vereda")
    assert (result["accepted"], result["new"]) == (3, 0)
    assert len(stored(server.database)) == before + 3
    with clinic.doctor() as doctor:  # a receipt for rows already acknowledged changes nothing
        assert import_receipt(direct(doctor), tmp_path / "r.vereda").acknowledged == 0


def test_altered_or_foreign_files_are_refused_on_both_ends(clinic: Clinic, answers: Any, server: Server,
                                                           tmp_path: Path) -> None:
    from server.usb_files import UsbFileError

    enroll_clinic(clinic, server.url, server, name="Puesto de Salud Alterado")
    close_encounters(clinic, answers, 2)
    with clinic.doctor() as doctor:
        export_feedback(direct(doctor), tmp_path / "f.vereda")
    doc = json.loads((tmp_path / "f.vereda").read_text(encoding="utf-8"))
    doc["count"] = 1  # even the clear header is authenticated
    (tmp_path / "header.vereda").write_text(json.dumps(doc), encoding="utf-8")
    data = bytearray((tmp_path / "f.vereda").read_bytes())
    data[data.index(b'"ciphertext": "') + 40] ^= 0x01
    (tmp_path / "body.vereda").write_bytes(bytes(data))
    for name in ("header.vereda", "body.vereda"):
        with pytest.raises(UsbFileError, match="altered"):
            import_on_server(server, tmp_path / name, tmp_path / "r.vereda")

    result = import_on_server(server, tmp_path / "f.vereda", tmp_path / "r.vereda")
    assert result["accepted"] == 2
    # The receipt opens only with this laptop's token: a re-enrolled laptop (new token) cannot use it.
    with clinic.admin() as admin:
        admin.settings.set(DEVICE_TOKEN, "another-token-entirely")
        with pytest.raises(SyncError) as info:
            import_receipt(direct(admin), tmp_path / "r.vereda")
        assert info.value.code == "usb_invalid_file"
        with pytest.raises(SyncError) as info:
            import_file(direct(admin), tmp_path / "f.vereda", clinic.data_dir)  # a feedback file is not for here
        assert info.value.code == "usb_invalid_file"


def test_a_model_bundle_comes_in_on_a_stick_with_every_check(clinic: Clinic, tmp_path: Path) -> None:
    from server.registry import build_archive

    bundle = signed_bundle(tmp_path / "b", "2026.12.20")
    archive = tmp_path / "vereda-model-2026.12.20.tar.gz"
    archive.write_bytes(build_archive(bundle, sorted(p.name for p in bundle.iterdir())))
    with clinic.doctor() as doctor:
        result = import_file(direct(doctor), archive, clinic.data_dir, lang="en")
        assert result["kind"] == "model" and result["status"] == "installed" and result["active"] == "2026.12.20"
        assert doctor.bundles.active().source == "usb"
        again = import_file(direct(doctor), archive, clinic.data_dir, lang="en")
        assert again["status"] == "refused" and again["error"]["code"] == "update_older"
