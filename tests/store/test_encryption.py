"""What is on disk is encrypted: no names or document numbers in any byte, plain sqlite3 cannot read it, a wrong key
fails clearly, every database has its own salt, and a flipped byte is caught by the check."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.store import ClinicStore, StoreError
from app.store.database import open_database
from app.store.keys import SecretKey
from tests.store.conftest import ADMIN_PASS, DOCUMENT, NAMES, Clinic, add_named_patient, make_clinic, vereda

SECRETS = [s.encode() for s in (*NAMES, *NAMES[0].split(), *NAMES[1].split(), DOCUMENT, "3104567890",
                                "penicilina", "Quinonez", "quinonez")]


def assert_no_patient_bytes(path: Path) -> None:
    data = path.read_bytes()
    for secret in SECRETS:
        assert secret not in data, f"{secret!r} found in {path.name}"
        assert secret.decode().encode("utf-16-le") not in data, f"{secret!r} (UTF-16) found in {path.name}"


def test_no_patient_data_in_any_file_or_backup(clinic: Clinic, diagnosis, tmp_path: Path):
    request, response = diagnosis
    with clinic.doctor() as store:
        for _ in range(30):  # enough rows that pages are full of names, documents and notes
            patient = add_named_patient(store) if _ == 0 else store.patients.add(
                given_names=NAMES[0], family_names=NAMES[1], sex="F", document_type="PA",
                document_number=f"{DOCUMENT}{_}", notes="Alérgica a la penicilina")
            store.encounters.record(patient.id, request=request, response=response, final_code="A97",
                                    notes=f"{NAMES[0]} {NAMES[1]} refiere fiebre")
        store.patients.search("yesenia quiño")
        store.patients.search(DOCUMENT)
        # While open: the database, its WAL and everything else in the folder.
        files = [p for p in clinic.data_dir.iterdir() if p.is_file()]
        assert any(p.name.endswith("-wal") for p in files)
        for path in files:
            assert_no_patient_bytes(path)
    for path in clinic.data_dir.iterdir():
        if path.is_file():
            assert_no_patient_bytes(path)
    with clinic.admin() as admin:
        backup = admin.backup(tmp_path / "usb" / "clinica.vbak")
    assert_no_patient_bytes(backup)


def test_plain_sqlite_cannot_open_database_or_backup(clinic: Clinic, tmp_path: Path):
    with clinic.admin() as admin:
        backup = admin.backup(tmp_path / "b.vbak")
    for path in (clinic.data_dir / "vereda.db", backup):
        with pytest.raises(sqlite3.DatabaseError, match="not a database"):
            sqlite3.connect(path).execute("SELECT count(*) FROM sqlite_master").fetchall()


def test_wrong_passphrase_and_wrong_key_are_clear_errors(clinic: Clinic):
    with pytest.raises(StoreError) as info:
        ClinicStore.unlock(clinic.data_dir, "admin", "not the passphrase")
    assert info.value.code == "wrong_credentials"
    assert info.value.message("es") == "Usuario o contraseña incorrectos."
    assert info.value.message("en") == "Wrong user name or passphrase."
    # A raw key that is not this database's (another clinic's key file next to this database, say).
    with pytest.raises(StoreError) as info:
        open_database(clinic.data_dir / "vereda.db", SecretKey.generate())
    assert info.value.code == "database_key_mismatch"
    assert "vereda.db" in info.value.message("es")
    # The failed open released the folder: the right passphrase still works.
    clinic.admin().lock()


def test_same_passphrase_gives_different_first_16_bytes(tmp_path: Path):
    a = make_clinic(tmp_path / "a")
    b = make_clinic(tmp_path / "b")
    head_a = (a.data_dir / "vereda.db").read_bytes()[:16]
    head_b = (b.data_dir / "vereda.db").read_bytes()[:16]
    assert head_a != head_b
    assert b"SQLite format 3" not in head_a


def test_database_files_are_private(clinic: Clinic):
    for name in ("vereda.db", "keys.json", "audit-anchor.json", "vereda.lock"):
        assert (clinic.data_dir / name).stat().st_mode & 0o077 == 0, name
    assert clinic.data_dir.stat().st_mode & 0o077 == 0


def test_flipped_byte_in_a_data_page_is_reported_by_check(clinic: Clinic, diagnosis, tmp_path: Path):
    request, response = diagnosis
    with clinic.doctor() as store:
        for i in range(40):
            patient = store.patients.add(given_names=f"Paciente {i}", family_names="Prueba", sex="M")
            store.encounters.record(patient.id, request=request, response=response, final_code="A97")
    db = clinic.data_dir / "vereda.db"
    data = bytearray(db.read_bytes())
    pages = len(data) // 4096
    assert pages > 10
    offset = 4096 * (pages // 2) + 1000  # a data page in the middle, not page 1 (salt and schema)
    data[offset] ^= 0x01
    db.write_bytes(bytes(data))
    (tmp_path / "pass").write_text(ADMIN_PASS + "\n")
    p = vereda("--lang", "en", "check", "--data-dir", str(clinic.data_dir), "--passphrase-file",
               str(tmp_path / "pass"))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "Traceback" not in p.stdout + p.stderr
    assert "[PROBLEM]" in p.stdout
    assert "HMAC" in p.stdout or "damaged" in p.stdout or "malformed" in p.stdout


def test_keys_are_dropped_on_lock(clinic: Clinic):
    store = clinic.doctor()
    key = store.context.key
    assert not key.wiped and len(store.context.pseudonym_key) == 32
    buffer = key.raw()
    store.lock()
    assert key.wiped and store.context.pseudonym_key == bytearray()
    assert buffer == bytearray(32)  # the bytes we held were overwritten, not just dropped
    with pytest.raises(StoreError) as info:
        store.patients.search("x")
    assert info.value.code == "locked"
