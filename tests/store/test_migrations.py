"""Schema migrations: databases made by every released schema (tests/fixtures/store-*/) open and upgrade with the
current code, the Alembic revisions build exactly the models, and a newer schema is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import exc as sa_exc

from app.store import ClinicStore, StoreError
from app.store.config_vars import AUTO_LOCK_LIMIT
from app.store.database import KNOWN_REVISIONS, MIGRATIONS_DIR, SCHEMA_HEAD
from app.store.models import Base
from tests.store.conftest import Clinic
from tests.store.test_audit import raw_connection

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FIXTURE_PASSPHRASES = {"admin": "fixture-admin-passphrase", "doctora": "fixture-doctora-passphrase"}
FIXTURE_RECOVERY_KEYS = {"0001": "TPCO-CGV4-EPXF-PLD4-AHBF-5KHA-52NP-VGKE-QD63",
                         "0002": "YCL3-TYWH-HSZE-5OW2-MU4E-OAZG-4JBV-R3MJ-GO6R"}


def fixture_folders() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("store-*") if p.is_dir())


def test_there_is_a_fixture_for_every_released_revision():
    assert {p.name.removeprefix("store-") for p in fixture_folders()} == set(KNOWN_REVISIONS)


@pytest.mark.parametrize("fixture", fixture_folders(), ids=lambda p: p.name)
def test_old_database_opens_and_upgrades(fixture: Path, tmp_path: Path):
    folder = tmp_path / "clinic"
    shutil.copytree(fixture, folder, ignore=shutil.ignore_patterns("README.md"))
    found = fixture.name.removeprefix("store-")
    with ClinicStore.unlock(folder, "doctora", FIXTURE_PASSPHRASES["doctora"]) as doctor:
        assert doctor.context.database.revision() == SCHEMA_HEAD
        (maria,) = doctor.patients.search("maria pena")
        assert maria.document_number == "1023456789"
        encounters = doctor.encounters.for_patient(maria.id)
        assert encounters[0].status == "closed" and encounters[0].response["explanation"]
        (lucia,) = doctor.patients.search("nanez")  # written before any change: search keys still work
        assert {e.status for e in doctor.encounters.for_patient(lucia.id)} == {"closed", "draft"}
        assert len(doctor.outbox.pending()) == 2  # three closed, one already sent
        doctor.patients.add(given_names="Nueva", family_names="Después de actualizar", sex="M")
    if found != SCHEMA_HEAD:
        assert (folder / f"vereda.db.before-{found}-to-{SCHEMA_HEAD}").exists()
    with ClinicStore.unlock(folder, "admin", FIXTURE_PASSPHRASES["admin"]) as admin:
        report = admin.check()
        assert report.ok, "\n".join(report.lines("en"))
        assert admin.settings.get(AUTO_LOCK_LIMIT) == 15
    ClinicStore.unlock_with_recovery_key(folder, FIXTURE_RECOVERY_KEYS[found]).lock()


def upgraded_copy(fixture: str, tmp_path: Path) -> Path:
    folder = tmp_path / "clinic"
    shutil.copytree(FIXTURES / f"store-{fixture}", folder, ignore=shutil.ignore_patterns("README.md"))
    return folder


def test_a_store_upgraded_from_0001_keeps_its_patients_and_takes_a_peruvian_dni(tmp_path: Path):
    folder = upgraded_copy("0001", tmp_path)
    with ClinicStore.unlock(folder, "doctora", FIXTURE_PASSPHRASES["doctora"]) as doctor:
        database = doctor.context.database
        assert database.revision() == SCHEMA_HEAD
        # Every patient and every name token survived the table copy (the tokens cascade from patients).
        assert database.pragma("SELECT count(*) FROM patients") == [(3,)]
        assert database.pragma("SELECT count(*) FROM patient_name_tokens")[0][0] > 3
        assert database.pragma("SELECT count(*) FROM encounters") == [(4,)]
        assert database.pragma("PRAGMA foreign_keys") == [(1,)]  # back on for the clinic's work
        rosa = doctor.patients.add(given_names="Rosa", family_names="Quispe Mamani", sex="F", document_type="DNI",
                                   document_number="45678912")
        assert [p.id for p in doctor.patients.search("DNI 45678912")] == [rosa.id]
        assert [p.id for p in doctor.patients.search("quispe")] == [rosa.id]
        with pytest.raises(StoreError) as refused:
            doctor.patients.add(given_names="Otra", family_names="Persona", sex="F", document_type="DNI",
                                document_number="45678912")
        assert refused.value.code == "patient_exists"
        # The rebuilt table itself still refuses what the store refuses: a duplicate document, an unknown type.
        maria = doctor.patients.search("maria pena")[0]
        row = ("'x1', 'A', 'B', 'b a', '{t}', '{n}', '{n}', 'F', '2026-01-01T00:00:00.000000Z', '{u}', "
               "'2026-01-01T00:00:00.000000Z'")
        insert = ("INSERT INTO patients (id, given_names, family_names, sort_name, document_type, document_number, "
                  "document_norm, sex, created_at, created_by, updated_at) VALUES ({})")
        user = database.pragma("SELECT id FROM users WHERE login = 'doctora'")[0][0]
        for document_type, number in (("CC", maria.document_number), ("XX", "1")):
            with pytest.raises(sa_exc.IntegrityError), database.engine.begin() as conn:
                conn.exec_driver_sql(insert.format(row.format(t=document_type, n=number, u=user)))
    with ClinicStore.unlock(folder, "admin", FIXTURE_PASSPHRASES["admin"]) as admin:
        report = admin.check()
        assert report.ok, "\n".join(report.lines("en"))


def test_the_0002_fixture_keeps_its_dni_patient(tmp_path: Path):
    folder = upgraded_copy("0002", tmp_path)
    with ClinicStore.unlock(folder, "doctora", FIXTURE_PASSPHRASES["doctora"]) as doctor:
        (rosa,) = doctor.patients.search("DNI 45678912")
        assert (rosa.document_type, rosa.family_names) == ("DNI", "Quispe Mamani")


def test_revisions_build_exactly_the_models(clinic: Clinic):
    store = clinic.admin()
    try:
        with store.context.database.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        store.lock()
    assert diff == []


def test_known_revisions_are_the_alembic_scripts():
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    scripts = ScriptDirectory.from_config(config)
    assert scripts.get_heads() == [SCHEMA_HEAD]
    chain = [rev.revision for rev in scripts.walk_revisions()]
    assert list(reversed(chain)) == list(KNOWN_REVISIONS)


def test_a_newer_schema_is_refused(clinic: Clinic):
    conn = raw_connection(clinic)
    conn.execute("UPDATE alembic_version SET version_num = '9999'")
    conn.close()
    with pytest.raises(StoreError) as info:
        clinic.admin()
    assert info.value.code == "schema_too_new"
    assert "9999" in info.value.message("es")
