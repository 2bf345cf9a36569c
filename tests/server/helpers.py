"""Helpers for the central service's tests: server processes, enrollment, feedback records, signed bundles.

A server is the `vereda-server` console script in a subprocess on a free port of 127.0.0.1, waited for on /health
and stopped at teardown; its log is shown when it fails to start.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
DEV_PRIVATE_KEY = ROOT / "tests" / "fixtures" / "keys" / "dev-private.pem"
DEV_PUBLIC_KEY = ROOT / "assets" / "keys" / "dev-public.pem"
SHIPPED_BUNDLE = ROOT / "assets" / "models"
# The version of the bundle the app ships (what a clinic runs before any update, what the service answers with
# before a model is published): read from it, so a rebuilt bundle does not break the tests that mean "the shipped".
SHIPPED_VERSION = str(json.loads((SHIPPED_BUNDLE / "manifest.json").read_text(encoding="utf-8"))["version"])
CASE4 = {"age": 40, "sex": "F", "symptoms": {"dolor_pecho": 7, "dificultad_respirar": 9, "fatiga": 8}}
METRICS_TOKEN = "metrics-token-for-the-tests-0123456789abcdef"
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}
# Contract v2, issue 12's first case: a pregnant woman at 34 weeks with BP 168/112, severe headache and blurred
# vision. WHO's severe pre-eclampsia rule makes it EMERGENCIA whatever the model says.
PREECLAMPSIA = {"age": 28, "sex": "F", "duration_days": 1,
                "symptoms": {"dolor_cabeza": 9, "cambios_vision": 6, "dolor_abdominal": 4},
                "vitals": {"systolic_bp": 168, "diastolic_bp": 112, "heart_rate": 96, "weight_kg": 71.5},
                "pregnancy": {"status": "pregnant", "weeks": 34}, "consciousness": "A"}
# A 6-month-old (age typed as 6 months, sent as 0.5 years) with two IMCI general danger signs: EMERGENCIA by rule.
INFANT = {"age": 6, "sex": "M", "duration_days": 3, "symptoms": {"tos": 6, "fiebre": 7, "dificultad_respirar": 7},
          "vitals": {"temperature_c": 38.6, "respiratory_rate": 58, "weight_kg": 7.2, "muac_mm": 121},
          "signs": ["unable_to_drink_or_breastfeed", "chest_indrawing"], "consciousness": "A"}


def server_command() -> list[str]:
    script = Path(sys.executable).with_name("vereda-server")
    return [str(script)] if script.exists() else [sys.executable, "-m", "server"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One `vereda-server serve` process."""

    def __init__(self, database: str, workdir: Path, workers: int = 1, env: dict[str, str] | None = None,
                 args: list[str] | None = None) -> None:
        self.database, self.port = database, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"server-{self.port}.log"
        self.env = {
            **os.environ,
            "VEREDA_SERVER_DATA_DIR": str(workdir / "data"),
            "VEREDA_SERVER_CACHE_DIR": str(workdir / f"cache-{self.port}"),
            "VEREDA_SERVER_MODEL_REFRESH_SECONDS": "0",  # see promotions at once
            "VEREDA_SERVER_RATE_LIMIT_PER_SECOND": "0",
            "VEREDA_SERVER_METRICS_TOKEN": METRICS_TOKEN,
            **(env or {}),
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        cmd = [*server_command(), "serve", "--database", database, "--host", "127.0.0.1", "--port", str(self.port),
               "--workers", str(workers), *(args or [])]
        self._log_fh = self.log.open("wb")
        self.process = subprocess.Popen(cmd, stdout=self._log_fh, stderr=subprocess.STDOUT, env=self.env, cwd=workdir)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        if wait_healthy(self.url, self.process, timeout):
            return
        self.stop()
        raise RuntimeError(f"vereda-server did not start:\n{self.log.read_text(errors='replace')[-4000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log_fh.close()


# --- databases, devices, records, bundles -------------------------------------------------------------------------


def open_sessions(database: str) -> Any:
    """Write sessions on a migrated database, in the test process (to arrange states the API cannot make)."""
    from server.core.config import normalise_database_url
    from server.db import migrate
    from server.db.session import make_engine, make_sessions

    engine = make_engine(normalise_database_url(database))
    migrate.upgrade(engine)
    return make_sessions(engine, write=True)


def enrollment_code(database: str, clinic: str, hours: float = 1.0, now: dt.datetime | None = None) -> str:
    from server.db import crud

    with open_sessions(database)() as session:
        code, _, _ = crud.create_enrollment_code(session, clinic, hours, now)
        session.commit()
    return code


def enroll(base_url: str, database: str, clinic: str = "Puesto de Salud San José") -> dict[str, Any]:
    """Enroll a device at `base_url`; returns the enroll response (device_token, clinic_id, …)."""
    reply = requests.post(f"{base_url}/v1/enroll", json={"code": enrollment_code(database, clinic)}, timeout=10)
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


def auth(device: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {device['device_token']}"}


def feedback_record(clinic_id: str, **overrides: Any) -> dict[str, Any]:
    record = {
        "uuid": str(uuid.uuid4()),
        "clinic_id": clinic_id,
        "pseudonym": secrets.token_hex(32),
        "week": "2026-W48",
        "request": {
            "age": 45, "sex": "F", "duration_days": 3,
            "symptoms": {"fiebre": 8, "dolor_cabeza": 6, "tos": 4},
            "vitals": {"temperature_c": 39.1, "heart_rate": 104, "spo2": 95},
            "hpo_terms": ["HP:0001250"],
        },
        "response_summary": {"severity": "ENFERMEDAD_LEVE", "top_condition": "J11",
                             "requires_immediate_attention": False},
        "confirmed_diagnosis": "J11",
        "model_version": "2026.11.1",
    }
    record.update(overrides)
    return record


def signed_bundle(target: Path, version: str, key: Path = DEV_PRIVATE_KEY, expires: str | None = None) -> Path:
    """A copy of the shipped bundle as `version`, signed with the development key."""
    from app.core.signing import load_private_key, sign_bundle

    shutil.copytree(SHIPPED_BUNDLE, target)
    manifest_path = target / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["version"] = version
    if expires:
        manifest["expires"] = expires
    manifest_path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
    sign_bundle(target, load_private_key(key))
    return target


def smuggled_bundle(bundle: Path) -> Any:
    """A bundle packed with no check at all, as an attacker with write access to the registry's database could store
    it (the registry itself refuses it): to test that clinics and the service refuse it anyway."""
    import hashlib

    from server.registry import PreparedBundle, build_archive

    manifest_bytes = (bundle / "manifest.json").read_bytes()
    manifest = json.loads(manifest_bytes)
    signature = bundle / "manifest.sig"
    names = sorted(["manifest.json", *(["manifest.sig"] if signature.is_file() else []), *manifest["files"]])
    archive = build_archive(bundle, names)
    return PreparedBundle(version=str(manifest["version"]), manifest=manifest,
                          manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
                          signature=signature.read_text().strip() if signature.is_file() else None, signed_by=None,
                          archive=archive, archive_sha256=hashlib.sha256(archive).hexdigest())


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*server_command(), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def create_pg_database(admin_url: str) -> str:
    import psycopg

    name = f"vereda_test_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float) -> bool:
    """True once `url`/health answers 200; False when the process exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(url + "/health", timeout=2).status_code == 200:
                return True
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    return False
