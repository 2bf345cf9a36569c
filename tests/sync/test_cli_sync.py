"""`vereda enroll` and `vereda sync` as IT staff run them: JSON out, errors as JSON in the chosen language, exit
codes, and the device token never printed, logged or written to the audit log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from app.store.config_vars import LAST_SYNC
from app.sync.enrollment import load_enrollment
from tests.server.helpers import ROOT, SHIPPED_VERSION, Server, enrollment_code
from tests.sync.conftest import Clinic, close_encounters


def vereda(*args: str, logs: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VEREDA_LOG_DIR": str(logs)}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env=env)


def test_enroll_then_sync_from_the_command_line(clinic: Clinic, answers: Any, server: Server, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    common = ("--data-dir", str(clinic.data_dir), "--passphrase-file", str(clinic.passphrase_file))
    not_yet = vereda("--lang", "en", "sync", *common, logs=logs)
    assert not_yet.returncode == 1 and json.loads(not_yet.stderr)["error"]["code"] == "not_enrolled"

    code = enrollment_code(server.database, "Puesto de Salud Terminal")
    done = vereda("enroll", "--server", server.url + "/", "--code", code.lower(), *common, logs=logs)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["enrolled"] is True and shown["server"] == server.url and shown["clinic_id"]
    used = vereda("enroll", "--server", server.url, "--code", code, "--force", *common, logs=logs)
    assert used.returncode == 2 and json.loads(used.stderr)["error"]["code"] == "enrollment_code_used"
    assert "ya fue usado" in json.loads(used.stderr)["error"]["message"]  # Spanish by default

    close_encounters(clinic, answers, 7)
    synced = vereda("sync", *common, logs=logs)
    assert synced.returncode == 0, synced.stderr
    summary = json.loads(synced.stdout)
    assert {k: summary[k] for k in ("pushed", "acknowledged", "pending", "failed")} == {
        "pushed": 7, "acknowledged": 7, "pending": 0, "failed": 0}
    assert summary["model"]["status"] == "none_published" and summary["model"]["active"] == SHIPPED_VERSION

    with clinic.admin() as admin:
        enrollment = load_enrollment(admin)
        assert enrollment is not None
        token = enrollment.token
        audit = json.dumps([[e.action, e.subject, e.detail] for e in admin.audit.entries(limit=500)])
        assert admin.settings.get(LAST_SYNC) == summary["finished_at"]
    assert token not in audit and '"setting:device_token", {"set": true}' in audit
    assert "sync.run" in audit and "sync.enrolled" in audit
    for output in (not_yet, done, used, synced):
        assert token not in output.stdout and token not in output.stderr
    for log in logs.rglob("*"):
        if log.is_file():
            assert token not in log.read_text(errors="replace")


def test_plain_http_to_another_machine_is_refused_before_anything_is_sent(clinic: Clinic, tmp_path: Path) -> None:
    out = vereda("--lang", "en", "enroll", "--server", "http://192.0.2.10:8000", "--code", "AAAA-BBBB-CCCC-DDDD",
                 "--data-dir", str(clinic.data_dir), "--passphrase-file", str(clinic.passphrase_file),
                 logs=tmp_path / "logs")
    assert out.returncode == 2 and json.loads(out.stderr)["error"]["code"] == "insecure_url"
