"""Fixtures for the sync client's tests: a real `vereda-server` per module (tests/server's fixture), the fault proxy in
front of it, and clinic stores (real SQLCipher files, cheap scrypt) with closed encounters in their outbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.store import ClinicStore, KdfParams
from app.sync.client import CentralClient, RetryPolicy
from app.sync.enrollment import Enrollment, enroll
from tests.server.conftest import start_server  # noqa: F401 - the fixture, shared with tests/server
from tests.server.helpers import Server, enrollment_code
from tests.sync.proxy import FaultProxy

FAST_KDF = KdfParams(n=2**14, r=8, p=1)
ADMIN_PASS = "clave-admin-larga"
DOCTOR_PASS = "clave-doctora-larga"
REQUESTS = (
    {"age": 34, "sex": "F", "duration_days": 3,
     "symptoms": {"fiebre": 8, "dolor_cabeza": 7, "dolor_retroocular": 6, "dolor_muscular": 6},
     "vitals": {"temperature_c": 39.2, "heart_rate": 104}},
    {"age": 95, "sex": "M", "symptoms": {"Tos": 7, "fiebre": 6, "dificultad_respirar": 5},
     "vitals": {"spo2": 91, "respiratory_rate": 26}, "hpo_terms": ["HP:0002090"]},
    {"age": 8, "sex": "F", "duration_days": 2, "symptoms": {"diarrea": 7, "vomito": 5, "dolor_abdominal": 6}},
)
CODES = ("A97", "J18.9", "A09")


def no_sleep(_seconds: float) -> None:
    return None


FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, sleep=no_sleep)


@dataclass
class Clinic:
    data_dir: Path

    def admin(self) -> ClinicStore:
        return ClinicStore.unlock(self.data_dir, "admin", ADMIN_PASS)

    def doctor(self) -> ClinicStore:
        return ClinicStore.unlock(self.data_dir, "doctora", DOCTOR_PASS)

    @property
    def passphrase_file(self) -> Path:
        path = self.data_dir.parent / "admin-pass.txt"
        path.write_text(ADMIN_PASS + "\n", encoding="utf-8")
        return path


def direct(store: ClinicStore) -> Callable[[Callable[[ClinicStore], Any]], Any]:
    return lambda fn: fn(store)


@pytest.fixture
def clinic(tmp_path: Path) -> Clinic:
    store, _ = ClinicStore.create(tmp_path / "clinic", clinic_name="Puesto de salud La Esperanza",
                                  municipality="Inzá", admin_login="admin", admin_name="Ana Administradora",
                                  admin_passphrase=ADMIN_PASS, kdf=FAST_KDF)
    store.users.add("doctora", "Dra. Luz Marina", "doctor", DOCTOR_PASS, must_change_passphrase=False, kdf=FAST_KDF)
    store.lock()
    return Clinic(tmp_path / "clinic")


@pytest.fixture(scope="session")
def answers(engine: Any) -> list[tuple[dict[str, Any], dict[str, Any], str]]:
    return [(r, engine.diagnose(r), c) for r, c in zip(REQUESTS, CODES, strict=True)]


def close_encounters(clinic: Clinic, answers: list[tuple[dict[str, Any], dict[str, Any], str]], n: int,
                     **patient: Any) -> list[str]:
    """`n` closed encounters (outbox rows) over a few patients; returns the encounter ids."""
    ids = []
    with clinic.doctor() as doctor:
        people = [doctor.patients.add(given_names=patient.get("given_names", f"Paciente {k}"),
                                      family_names=patient.get("family_names", "Prueba"),
                                      sex=patient.get("sex", "F"), document_number=patient.get("document_number"),
                                      birth_date=patient.get("birth_date"), village=patient.get("village"),
                                      phone=patient.get("phone"), notes=patient.get("notes"))
                  for k in range(1 if patient else 3)]
        for i in range(n):
            request, response, code = answers[i % len(answers)]
            encounter = doctor.encounters.record(people[i % len(people)].id, request=request, response=response,
                                                 final_code=code, notes=patient.get("encounter_notes"))
            ids.append(encounter.id)
    return ids


@pytest.fixture(scope="module")
def server(start_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Server:  # noqa: F811
    database = f"sqlite:///{tmp_path_factory.mktemp('sync-sqlite') / 'vereda-server.db'}"
    return start_server(database)  # type: ignore[no-any-return]


@pytest.fixture
def proxy(server: Server) -> Iterator[FaultProxy]:
    p = FaultProxy(server.port)
    yield p
    p.close()


def enroll_clinic(clinic: Clinic, url: str, server: Server, name: str = "Puesto de Salud La Esperanza") -> Enrollment:
    code = enrollment_code(server.database, name)
    with clinic.admin() as admin:
        return enroll(direct(admin), url, code, client_factory=lambda u: CentralClient(u, retry=FAST_RETRY))


def stored(database: str) -> dict[str, dict[str, Any]]:
    """uuid -> payload of every feedback record the service holds (uuids are unique by construction)."""
    from sqlalchemy import select

    from server.db.models import FeedbackRecord
    from tests.server.helpers import open_sessions

    with open_sessions(database)() as session:
        rows = session.execute(select(FeedbackRecord.uuid, FeedbackRecord.payload)).all()
    assert len(rows) == len({u for u, _ in rows})
    return {u: p for u, p in rows}


def expected_uuids(clinic: Clinic) -> set[str]:
    """The record uuids of every closed encounter of this clinic (sent or not)."""
    from sqlalchemy import select

    from app.store.models import FeedbackOutbox
    from app.sync.outbox import record_uuid

    with clinic.admin() as admin, admin.context.transaction() as s:
        return {record_uuid(row.payload["encounter"]) for row in s.scalars(select(FeedbackOutbox))}


def today() -> dt.date:
    return dt.date.today()
