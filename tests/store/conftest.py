"""Fixtures for the patient store: real SQLCipher files in temp folders, a clinic with an admin and a doctor, and a
real diagnose response from the shipped engine.

Tests use cheap scrypt parameters (N=2^10) so hundreds of unlocks stay fast; the parameters are stored with each
wrap exactly as production's are, so nothing else about key handling changes. bench/store.py measures the real
default.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.store import ClinicStore, KdfParams

FAST_KDF = KdfParams(n=2**10, r=8, p=1)
ADMIN_PASS = "clave-admin-larga"
DOCTOR_PASS = "clave-doctora-larga"
NAMES = ("Yesenia Xiomara", "Quiñónez Zambrano")
DOCUMENT = "1098765432"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Clinic:
    data_dir: Path
    recovery_key: str
    admin_id: str
    doctor_id: str

    def admin(self, **kw: Any) -> ClinicStore:
        return ClinicStore.unlock(self.data_dir, "admin", ADMIN_PASS, **kw)

    def doctor(self, **kw: Any) -> ClinicStore:
        return ClinicStore.unlock(self.data_dir, "doctora", DOCTOR_PASS, **kw)


def make_clinic(data_dir: Path) -> Clinic:
    store, recovery_key = ClinicStore.create(
        data_dir, clinic_name="Puesto de salud La Esperanza", municipality="Inzá", admin_login="admin",
        admin_name="Ana Administradora", admin_passphrase=ADMIN_PASS, kdf=FAST_KDF)
    admin_id = store.principal.user_id
    doctor = store.users.add("doctora", "Dra. Luz Marina", "doctor", DOCTOR_PASS, must_change_passphrase=False)
    store.lock()
    return Clinic(data_dir, recovery_key, admin_id, doctor.id)


@pytest.fixture
def clinic(tmp_path: Path) -> Clinic:
    return make_clinic(tmp_path / "clinic")


@pytest.fixture(scope="session")
def diagnosis(engine) -> tuple[dict[str, Any], dict[str, Any]]:
    """A real request and the engine's real response (with explanation) for it."""
    request = {"age": 34, "sex": "F", "duration_days": 3,
               "symptoms": {"fiebre": 8, "dolor_cabeza": 7, "dolor_retroocular": 6, "dolor_muscular": 6},
               "vitals": {"temperature_c": 39.2, "heart_rate": 104}}
    return request, engine.diagnose(request)


def add_named_patient(store: ClinicStore):
    return store.patients.add(given_names=NAMES[0], family_names=NAMES[1], sex="F", document_type="CC",
                              document_number=DOCUMENT, birth_date=dt.date(1991, 4, 17), village="Vereda El Carmen",
                              phone="3104567890", notes="Alérgica a la penicilina")


def vereda(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], input=stdin, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
