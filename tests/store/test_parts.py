"""The store as one object with parts: every part hands out frozen records, never ORM rows; the settings registry
checks type, allowed values, role and scope; the modules keep their size and backup.py does not import the store."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from app.store import ClinicStore, StoreError
from app.store.config_vars import (
    AUTO_LOCK,
    AUTO_LOCK_LIMIT,
    CENTRAL_URL,
    CLINIC,
    CLINIC_LANGUAGE,
    DEVICE_ID,
    DEVICE_TOKEN,
    ENROLLMENT_CODE,
    LANGUAGE,
    LAST_SYNC,
    LAST_SYNC_RESULT,
    MODE,
    SETTINGS,
    USER,
)
from app.store.models import Base
from app.store.records import RECORD_TYPES
from tests.store.conftest import ROOT, Clinic, add_named_patient

STORE_DIR = ROOT / "app" / "store"


def _no_rows(value: Any, where: str, seen: set[type]) -> None:
    """Fail if `value` holds an ORM row anywhere; every record in it must be a frozen record dataclass."""
    assert not isinstance(value, Base), f"{where} returned an ORM row: {type(value).__name__}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        assert isinstance(value, RECORD_TYPES), f"{where} returned {type(value).__name__}"
        seen.add(type(value))
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, dataclasses.fields(value)[0].name, None)
        for f in dataclasses.fields(value):
            _no_rows(getattr(value, f.name), where, seen)
    elif isinstance(value, list | tuple | set):
        for item in value:
            _no_rows(item, where, seen)
    elif isinstance(value, dict):
        for item in value.values():
            _no_rows(item, where, seen)


def test_no_part_returns_an_orm_row(clinic: Clinic, diagnosis) -> None:
    request, response = diagnosis
    results: dict[str, Any] = {}
    with clinic.admin() as admin:
        results["users.list"] = admin.users.list()
        results["users.by_login"] = admin.users.by_login("Doctora")
        results["users.add"] = admin.users.add("enfermero", "Enf. Pedro", "nurse", "temporal-12345")
        results["bundles.record_installed"] = admin.bundles.record_installed(
            version="2026.11.1", sha256="a" * 64, source="shipped", manifest={"version": "2026.11.1"})
        results["bundles.active"] = admin.bundles.active()
        results["clinic"] = admin.clinic
    with clinic.doctor() as doctor:
        patient = add_named_patient(doctor)
        results["patients.add"] = patient
        results["patients.update"] = doctor.patients.update(patient.id, village="La Plata")
        results["patients.get"] = doctor.patients.get(patient.id)
        results["patients.search"] = doctor.patients.search("quiñonez")
        draft = doctor.encounters.start(patient.id, request=request)
        results["encounters.start"] = draft
        results["encounters.update"] = doctor.encounters.update(draft.id, response=response)
        results["encounters.close"] = doctor.encounters.close(draft.id, "A97")
        results["encounters.record"] = doctor.encounters.record(patient.id, request=request, response=response,
                                                                final_code="A97")
        results["encounters.get"] = doctor.encounters.get(draft.id)
        results["encounters.for_patient"] = doctor.encounters.for_patient(patient.id)
        results["outbox.pending"] = doctor.outbox.pending()
        results["outbox.counts"] = doctor.outbox.counts()
        results["settings.get"] = [doctor.settings.get(var) for var in SETTINGS]
    with clinic.admin() as admin:
        results["audit.entries"] = admin.audit.entries(limit=20)
        results["audit.chain_head"] = admin.audit.chain_head()
    seen: set[type] = set()
    for where, value in results.items():
        _no_rows(value, where, seen)
    assert len(results["outbox.pending"]) == 2 and results["patients.search"][0].village == "La Plata"
    assert results["clinic"].name == "Puesto de salud La Esperanza"
    assert seen == set(RECORD_TYPES)


def test_each_setting_is_declared_once() -> None:
    seen = {(var.scope, var.key) for var in SETTINGS}
    assert len(seen) == len(SETTINGS)
    for var in SETTINGS:
        assert var.scope in (CLINIC, USER)
        assert var.changed_by in ("maintain", "sync", "own_preferences"), var.key
        assert (var.scope == USER) == (var.changed_by == "own_preferences"), var.key
        if var.default is not None:
            assert var.validate(var.default) == var.default
    # No module outside the registry names a setting's key as a string to the store.
    for path in (ROOT / "app").rglob("*.py"):
        if path.name == "config_vars.py":
            continue
        source = path.read_text(encoding="utf-8")
        assert "set_setting(" not in source and ".setting(" not in source, path


@pytest.mark.parametrize(("var", "value"), [
    (MODE, "satellite"), (MODE, None), (MODE, 1), (AUTO_LOCK_LIMIT, "10"), (AUTO_LOCK_LIMIT, True),
    (AUTO_LOCK_LIMIT, 0), (AUTO_LOCK_LIMIT, 121), (AUTO_LOCK_LIMIT, 10.5), (CENTRAL_URL, 443),
    (DEVICE_ID, "7"), (LAST_SYNC_RESULT, "ok"), (CLINIC_LANGUAGE, "fr"),
])
def test_settings_check_the_type_and_the_allowed_values(clinic: Clinic, var, value) -> None:
    with clinic.admin() as admin:
        before = admin.settings.get(var)
        with pytest.raises(StoreError) as info:
            admin.settings.set(var, value)
        assert info.value.code == "invalid_setting" and info.value.user_fixable
        assert admin.settings.get(var) == before


def test_settings_check_who_may_change_them(clinic: Clinic) -> None:
    with clinic.doctor() as doctor:
        for var in (MODE, CENTRAL_URL, AUTO_LOCK_LIMIT, CLINIC_LANGUAGE):
            assert not doctor.settings.may_change(var)
            with pytest.raises(StoreError) as info:
                doctor.settings.set(var, var.default if var.default is not None else "https://x.example.org")
            assert info.value.code == "not_allowed"
        for var, value in ((LAST_SYNC, "2026-11-26T10:00:00Z"), (DEVICE_TOKEN, "t"), (ENROLLMENT_CODE, None),
                           (LANGUAGE, "en"), (AUTO_LOCK, 5)):
            assert doctor.settings.may_change(var)
            doctor.settings.set(var, value)
    with clinic.admin() as admin:
        assert all(admin.settings.may_change(var) for var in SETTINGS)
        logged = {e.subject: e.detail for e in admin.audit.entries(limit=50) if e.action == "setting.change"}
        assert logged["setting:device_token"] == {"set": True}  # a secret's value never reaches the log
        assert logged[f"setting:user:{clinic.doctor_id}:language"] == {"value": "en"}


def test_a_doctor_keeps_her_own_language_and_auto_lock_within_the_clinic_limit(clinic: Clinic) -> None:
    with clinic.admin() as admin:
        admin.settings.set(CLINIC_LANGUAGE, "es")
        admin.settings.set(AUTO_LOCK_LIMIT, 10)
    with clinic.doctor() as doctor:
        assert doctor.settings.get(LANGUAGE) == "es"  # the clinic's until she chooses
        assert doctor.settings.get(AUTO_LOCK) == 10 and doctor.auto_lock_seconds == 600
        doctor.settings.set(LANGUAGE, "en")
        doctor.settings.set(AUTO_LOCK, 5)
        assert doctor.auto_lock_seconds == 300  # applies to this session at once
        with pytest.raises(StoreError) as info:
            doctor.settings.set(AUTO_LOCK, 30)  # above what the administrator allows
        assert info.value.code == "invalid_setting"
    with clinic.doctor() as doctor:
        assert doctor.settings.get(LANGUAGE) == "en" and doctor.auto_lock_seconds == 300
    with clinic.admin() as admin:
        # Her choices are hers: the administrator's language and auto-lock are still the clinic's.
        assert admin.settings.get(LANGUAGE) == "es" and admin.settings.get(AUTO_LOCK) == 10
        admin.settings.set(AUTO_LOCK_LIMIT, 3)
    with clinic.doctor() as doctor:
        assert doctor.settings.get(AUTO_LOCK) == 3 and doctor.auto_lock_seconds == 180  # the new limit caps hers


def test_a_user_must_change_a_temporary_passphrase_before_reading_settings(clinic: Clinic) -> None:
    with clinic.admin() as admin:
        admin.users.add("enfermero", "Enf. Pedro", "nurse", "temporal-12345")
    nurse = ClinicStore.unlock(clinic.data_dir, "enfermero", "temporal-12345")
    with nurse:
        assert nurse.auto_lock_seconds == 600  # the store applies it at login all the same
        with pytest.raises(StoreError) as info:
            nurse.settings.get(LANGUAGE)
        assert info.value.code == "passphrase_change_required"


def test_the_store_modules_stay_small_and_backup_does_not_import_the_store() -> None:
    for path in STORE_DIR.glob("*.py"):
        if path.name != "messages.py":
            assert len(path.read_text(encoding="utf-8").splitlines()) <= 600, path.name
    imported = set()
    for node in ast.walk(ast.parse((STORE_DIR / "backup.py").read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert "app.store.store" not in imported
    # The parts use the shared context, never the store's or each other's private names.
    for name in ("users", "patients", "encounters", "outbox", "settings", "bundles", "audit_log"):
        tree = ast.parse((STORE_DIR / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                owner = node.value
                assert isinstance(owner, ast.Name) and owner.id == "self", (name, node.attr)


def test_records_are_copies_that_outlive_the_lock(clinic: Clinic) -> None:
    with clinic.doctor() as doctor:
        patient = doctor.patients.add(given_names="Ana", family_names="Ríos", sex="F",
                                      birth_date=dt.date(2026, 11, 25))
    assert doctor.locked and patient.birth_date == dt.date(2026, 11, 25) and patient.given_names == "Ana"


def test_restore_goes_through_the_store(clinic: Clinic, tmp_path: Path) -> None:
    with clinic.admin() as admin:
        usb = admin.backup(tmp_path / "copia.vbak")
    result = ClinicStore.restore(usb, tmp_path / "nuevo", clinic.recovery_key)
    assert result.relation == "empty"
    with ClinicStore.unlock_with_recovery_key(tmp_path / "nuevo", clinic.recovery_key) as store:
        assert "backup.restore" in [e.action for e in store.audit.entries(limit=5)]


def test_a_setting_can_be_cleared(clinic: Clinic) -> None:
    # The enrollment code typed at setup is forgotten once spent; clearing it used to break the NOT NULL column.
    with clinic.admin() as admin:
        admin.settings.set(ENROLLMENT_CODE, "ABCD-1234")
        assert admin.settings.get(ENROLLMENT_CODE) == "ABCD-1234"
        admin.settings.set(ENROLLMENT_CODE, None)
        assert admin.settings.get(ENROLLMENT_CODE) is None
        admin.settings.set(CENTRAL_URL, None)
