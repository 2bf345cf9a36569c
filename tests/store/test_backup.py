"""Encrypted backups: restorable on a new laptop with the recovery key, and never silently over a newer database."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.store import ClinicStore, StoreError
from app.store.backup import read_header
from app.store.keys import generate_recovery_key
from tests.store.conftest import ADMIN_PASS, DOCTOR_PASS, Clinic, add_named_patient, make_clinic


def backup_of(clinic: Clinic, target: Path) -> Path:
    with clinic.admin() as admin:
        return admin.backup(target)


def test_restore_on_a_new_laptop_with_the_recovery_key(clinic: Clinic, diagnosis, tmp_path: Path):
    request, response = diagnosis
    with clinic.doctor() as store:
        patient = add_named_patient(store)
        store.encounters.record(patient.id, request=request, response=response, final_code="A97")
    usb = backup_of(clinic, tmp_path / "usb" / "clinica.vbak")
    header, _ = read_header(usb)
    assert header.clinic_id and header.audit_seq > 0

    with pytest.raises(StoreError) as info:
        ClinicStore.restore(usb, tmp_path / "new-laptop", generate_recovery_key())
    assert info.value.code == "wrong_recovery_key"
    result = ClinicStore.restore(usb, tmp_path / "new-laptop", clinic.recovery_key)
    assert result.relation == "empty" and result.kept is None
    # Users keep their passphrases; the records and their history came along.
    with ClinicStore.unlock(tmp_path / "new-laptop", "doctora", DOCTOR_PASS) as store:
        (found,) = store.patients.search("yesenia")
        assert [e.final_code for e in store.encounters.for_patient(found.id)] == ["A97"]
    with ClinicStore.unlock(tmp_path / "new-laptop", "admin", ADMIN_PASS) as admin:
        report = admin.check()
        assert report.ok, report.lines("en")
        actions = [e.action for e in admin.audit.entries(limit=20)]
    assert "backup.restore" in actions and "emergency_access" in actions


def test_restore_never_silently_replaces_a_newer_database(clinic: Clinic, tmp_path: Path):
    usb = backup_of(clinic, tmp_path / "old.vbak")
    with clinic.doctor() as store:
        store.patients.add(given_names="Registrada", family_names="Después", sex="F")
    with pytest.raises(StoreError) as info:
        ClinicStore.restore(usb, clinic.data_dir, clinic.recovery_key)
    assert info.value.code == "backup_target_newer"
    with clinic.doctor() as store:  # untouched
        assert len(store.patients.search("registrada")) == 1

    # With --force it is replaced, and the newer one is kept aside, never deleted.
    result = ClinicStore.restore(usb, clinic.data_dir, clinic.recovery_key, force=True)
    assert result.relation == "newer" and result.kept is not None
    assert (result.kept / "vereda.db").exists() and (result.kept / "keys.json").exists()
    with clinic.doctor() as store:
        assert store.patients.search("registrada") == []


def test_restoring_a_newer_backup_over_an_older_database(clinic: Clinic, tmp_path: Path):
    (clinic.data_dir.parent / "copy").mkdir()
    old_copy = clinic.data_dir.parent / "copy"
    for name in ("vereda.db", "keys.json", "audit-anchor.json"):
        (old_copy / name).write_bytes((clinic.data_dir / name).read_bytes())
    with clinic.doctor() as store:
        store.patients.add(given_names="Nueva", family_names="Paciente", sex="F")
    usb = backup_of(clinic, tmp_path / "new.vbak")
    result = ClinicStore.restore(usb, old_copy, clinic.recovery_key)
    assert result.relation == "older" and result.kept is not None
    with ClinicStore.unlock(old_copy, "doctora", DOCTOR_PASS) as store:
        assert len(store.patients.search("nueva")) == 1


def test_diverged_and_foreign_databases_are_refused(clinic: Clinic, tmp_path: Path):
    usb = backup_of(clinic, tmp_path / "b.vbak")
    elsewhere = tmp_path / "elsewhere"
    ClinicStore.restore(usb, elsewhere, clinic.recovery_key)
    with ClinicStore.unlock(elsewhere, "doctora", DOCTOR_PASS) as store:
        store.patients.add(given_names="Rama", family_names="Uno", sex="F")
    with clinic.doctor() as store:
        store.patients.add(given_names="Rama", family_names="Dos", sex="F")
    with pytest.raises(StoreError) as info:
        ClinicStore.restore(backup_of(clinic, tmp_path / "dos.vbak"), elsewhere, clinic.recovery_key)
    assert info.value.code == "backup_target_diverged"

    other = make_clinic(tmp_path / "other-clinic")
    with pytest.raises(StoreError) as info:
        ClinicStore.restore(usb, other.data_dir, clinic.recovery_key)
    assert info.value.code == "backup_target_foreign"
    ClinicStore.unlock(other.data_dir, "admin", ADMIN_PASS).lock()  # untouched


def test_damaged_backup_is_refused_before_touching_anything(clinic: Clinic, tmp_path: Path):
    usb = backup_of(clinic, tmp_path / "b.vbak")
    data = bytearray(usb.read_bytes())
    data[-5000] ^= 0x40
    usb.write_bytes(bytes(data))
    with pytest.raises(StoreError) as info:
        ClinicStore.restore(usb, tmp_path / "new", clinic.recovery_key)
    assert info.value.code == "backup_unreadable"
    usb.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(StoreError) as info:
        ClinicStore.restore(usb, tmp_path / "new", clinic.recovery_key)
    assert info.value.code == "backup_unreadable" and "truncated" in info.value.message("en")


def test_only_administrators_make_backups(clinic: Clinic, tmp_path: Path):
    with clinic.doctor() as store, pytest.raises(StoreError) as info:
        store.backup(tmp_path / "x.vbak")
    assert info.value.code == "not_allowed"
    assert not (tmp_path / "x.vbak").exists()


def test_restore_refuses_while_vereda_has_the_folder_open(clinic: Clinic, tmp_path: Path):
    usb = backup_of(clinic, tmp_path / "b.vbak")
    store = clinic.doctor()
    try:
        with pytest.raises(StoreError) as info:
            ClinicStore.restore(usb, clinic.data_dir, clinic.recovery_key, force=True)
        assert info.value.code == "in_use"
    finally:
        store.lock()
