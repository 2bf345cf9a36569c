"""`vereda enroll --force` retires the device the laptop was: the service revokes the token it held (issue 14.1).

Through the real `vereda` command and a real `vereda-server` on 127.0.0.1 (tests/sync/conftest.py's fixtures).
"""

from __future__ import annotations

import json
from pathlib import Path

import requests

from app.sync.enrollment import load_enrollment
from tests.server.helpers import Server, enrollment_code
from tests.sync.conftest import Clinic
from tests.sync.test_cli_sync import vereda


def _token(clinic: Clinic) -> str:
    with clinic.admin() as admin:
        enrollment = load_enrollment(admin)
    assert enrollment is not None
    return enrollment.token


def _latest_model(server: Server, token: str) -> int:
    return requests.get(f"{server.url}/v1/models/latest", headers={"Authorization": f"Bearer {token}"},
                        timeout=30).status_code


def test_enroll_force_revokes_the_token_the_laptop_held(clinic: Clinic, server: Server, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    common = ("--data-dir", str(clinic.data_dir), "--passphrase-file", str(clinic.passphrase_file))
    first = vereda("enroll", "--server", server.url, "--code", enrollment_code(server.database, "Puesto Uno"),
                   *common, logs=logs)
    assert first.returncode == 0, first.stderr
    old_token = _token(clinic)
    assert _latest_model(server, old_token) != 401

    again = vereda("enroll", "--server", server.url, "--code", enrollment_code(server.database, "Puesto Uno"),
                   "--force", *common, logs=logs)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["device_id"] != json.loads(first.stdout)["device_id"]
    new_token = _token(clinic)
    assert new_token != old_token
    assert _latest_model(server, old_token) == 401  # the retired device is refused at once
    assert _latest_model(server, new_token) != 401
    for output in (first, again):
        assert old_token not in output.stdout + output.stderr and new_token not in output.stdout + output.stderr
