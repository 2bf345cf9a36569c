"""Key handling and accounts: wraps per user, the recovery key, passphrase changes that only re-wrap, admin user
management, persisted back-off after failed logins, and the idle auto-lock."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.store import ClinicStore, StoreError
from app.store.keys import KdfParams, Keyring, generate_recovery_key, parse_recovery_key
from app.store.login_attempts import MAX_WAIT_SECONDS, wait_after
from tests.store.conftest import ADMIN_PASS, DOCTOR_PASS, FAST_KDF, Clinic


class FakeClock:
    """Time that tests move by hand, so back-off and idle timeouts are tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def error(fn, *args, **kw) -> StoreError:
    with pytest.raises(StoreError) as info:
        fn(*args, **kw)
    return info.value


def test_keyring_holds_params_and_no_plain_key(clinic: Clinic):
    keyring = json.loads((clinic.data_dir / "keys.json").read_text())
    assert {w["kind"] for w in keyring["wraps"]} == {"user", "recovery"}
    for wrap in keyring["wraps"]:
        assert wrap["kdf"]["name"] == "scrypt" and wrap["kdf"]["n"] == FAST_KDF.n and wrap["kdf"]["salt"]
    store = clinic.admin()
    raw_hex = store.context.key.raw().hex()
    store.lock()
    assert raw_hex not in (clinic.data_dir / "keys.json").read_text()


def test_default_kdf_is_memory_hard():
    params = KdfParams()
    assert params.n >= 2**17 and params.r >= 8  # >= 128 MiB per guess (OWASP's minimum for scrypt)


def test_recovery_key_typo_is_reported_as_a_typo(clinic: Clinic):
    key = generate_recovery_key()
    assert parse_recovery_key(key.lower().replace("-", " ")) == parse_recovery_key(key)
    typo = ("B" if key[0] != "B" else "C") + key[1:]
    assert error(parse_recovery_key, typo).code == "recovery_key_typo"
    wrong = generate_recovery_key()
    assert error(ClinicStore.unlock_with_recovery_key, clinic.data_dir, wrong).code == "wrong_recovery_key"


def test_recovery_key_is_logged_emergency_access(clinic: Clinic):
    with ClinicStore.unlock_with_recovery_key(clinic.data_dir, clinic.recovery_key) as store:
        assert store.principal.emergency and store.principal.role == "admin"
        entries = store.audit.entries(limit=5)
    assert any(e.action == "emergency_access" and e.user_id == "recovery" for e in entries)
    with clinic.admin() as admin:
        actions = [e.action for e in admin.audit.entries(limit=1000)]
    assert "recovery_key.create" in actions


def test_passphrase_change_rewraps_without_reencrypting(clinic: Clinic):
    db = clinic.data_dir / "vereda.db"
    with clinic.doctor() as store:
        store.patients.add(given_names="Ana", family_names="Ruiz", sex="F")
    before = db.read_bytes()
    sealed_before = Keyring.load(clinic.data_dir / "keys.json").user_wrap("doctora").sealed
    store = clinic.doctor()
    assert error(store.users.change_passphrase, "not the current one", "otra-clave-nueva").code == "wrong_credentials"
    assert error(store.users.change_passphrase, DOCTOR_PASS, "corta").code == "passphrase_too_short"
    store.users.change_passphrase(DOCTOR_PASS, "otra-clave-nueva")
    # Same data key: the database file was not rewritten (only the keyring changed).
    assert db.read_bytes()[:4096] == before[:4096]
    store.lock()
    assert Keyring.load(clinic.data_dir / "keys.json").user_wrap("doctora").sealed != sealed_before
    assert error(ClinicStore.unlock, clinic.data_dir, "doctora", DOCTOR_PASS).code == "wrong_credentials"
    with ClinicStore.unlock(clinic.data_dir, "doctora", "otra-clave-nueva") as store:
        assert [p.given_names for p in store.patients.search("ana")] == ["Ana"]


def test_admin_adds_disables_and_resets_users(clinic: Clinic):
    with clinic.admin() as admin:
        nurse = admin.users.add("enfermero", "Enf. Pedro", "nurse", "temporal-12345")
        assert error(admin.users.add, "enfermero", "Otro", "nurse", "temporal-12345").code == "login_taken"
        assert error(admin.users.add, "Con Espacios", "X", "nurse", "temporal-12345").code == "invalid_login"
        assert error(admin.users.add, "x1", "X", "cirujano", "temporal-12345").code == "invalid_role"
        assert error(admin.users.disable, clinic.admin_id).code == "cannot_disable_self"
        assert error(admin.users.set_role, clinic.admin_id, "doctor").code == "last_admin"

    # A new user must change the administrator's passphrase before doing anything else.
    store = ClinicStore.unlock(clinic.data_dir, "enfermero", "temporal-12345")
    assert error(store.patients.search, "ana").code == "passphrase_change_required"
    store.users.change_passphrase("temporal-12345", "mi-propia-clave")
    store.patients.search("ana")
    # Nurses record patients but cannot confirm diagnoses or manage users.
    assert error(store.encounters.close, "x", "J11").code == "not_allowed"
    assert error(store.users.list).code == "not_allowed"
    store.lock()

    keyring_before_disable = (clinic.data_dir / "keys.json").read_bytes()
    with clinic.admin() as admin:
        admin.users.disable(nurse.id)
    assert error(ClinicStore.unlock, clinic.data_dir, "enfermero", "mi-propia-clave").code == "wrong_credentials"
    # Putting the old keyring back gives the disabled user the key, but not a session: the database says no.
    (clinic.data_dir / "keys.json").write_bytes(keyring_before_disable)
    assert error(ClinicStore.unlock, clinic.data_dir, "enfermero", "mi-propia-clave").code == "user_disabled"

    with clinic.admin() as admin:
        admin.users.enable(nurse.id, "temporal-67890")
        admin.users.reset_passphrase(clinic.doctor_id, "reinicio-12345")
        actions = [e.action for e in admin.audit.entries(limit=50)]
    for action in ("user.add", "user.disable", "user.enable", "user.reset_passphrase", "login.refused"):
        assert action in actions
    doctor = ClinicStore.unlock(clinic.data_dir, "doctora", "reinicio-12345")
    assert doctor.principal.must_change_passphrase
    doctor.lock()


def test_failures_slow_down_persist_and_reach_the_audit_log(clinic: Clinic):
    clock = FakeClock()
    for _ in range(3):  # the free attempts
        assert error(ClinicStore.unlock, clinic.data_dir, "doctora", "mal", clock=clock).code == "wrong_credentials"
    # The fourth failure starts the back-off; even the right passphrase must wait.
    assert error(ClinicStore.unlock, clinic.data_dir, "doctora", "mal", clock=clock).code == "wrong_credentials"
    err = error(ClinicStore.unlock, clinic.data_dir, "doctora", DOCTOR_PASS, clock=clock)
    assert err.code == "too_many_attempts" and err.params["seconds"] >= 1
    assert "Espere" in err.message("es")
    # The wait is in a file: a new process (another clock object) still has to wait.
    assert error(ClinicStore.unlock, clinic.data_dir, "doctora", DOCTOR_PASS,
                 clock=lambda: clock.now).code == "too_many_attempts"
    # A user name nobody has is recorded as "?" (a passphrase typed in the wrong box never reaches the disk).
    error(ClinicStore.unlock, clinic.data_dir, "clave-secreta-en-el-usuario", "x", clock=clock)
    assert "clave-secreta-en-el-usuario" not in (clinic.data_dir / "login-attempts.json").read_text()
    clock.now += 2
    with ClinicStore.unlock(clinic.data_dir, "doctora", DOCTOR_PASS, clock=clock):
        pass
    with clinic.admin() as admin:
        failed = [e for e in admin.audit.entries(limit=100) if e.action == "login.failed"]
    assert len(failed) == 5
    assert {e.detail["login"] for e in failed} == {"doctora", "?"}
    assert json.loads((clinic.data_dir / "login-attempts.json").read_text())["unaudited"] == []


def test_backoff_doubles_and_is_capped():
    assert [wait_after(n, 3) for n in range(1, 8)] == [0, 0, 0, 1, 2, 4, 8]
    assert wait_after(100, 3) == MAX_WAIT_SECONDS


def test_idle_store_locks_itself(clinic: Clinic):
    clock = FakeClock()
    store = clinic.doctor(clock=clock)
    store.patients.search("ana")
    clock.now += store.auto_lock_seconds + 1
    assert error(store.patients.search, "ana").code == "locked"
    assert store.locked and store.context.key.wiped
    with clinic.admin() as admin:
        assert any(e.action == "lock" and e.detail == {"reason": "idle"} for e in admin.audit.entries(limit=10))


def test_second_process_cannot_open_the_same_folder(clinic: Clinic):
    store = clinic.doctor()
    try:
        assert error(ClinicStore.unlock, clinic.data_dir, "admin", ADMIN_PASS).code == "in_use"
    finally:
        store.lock()


def test_missing_database_is_not_silently_recreated(clinic: Clinic, tmp_path: Path):
    shutil.move(clinic.data_dir / "vereda.db", tmp_path / "elsewhere.db")
    assert error(ClinicStore.unlock, clinic.data_dir, "admin", ADMIN_PASS).code == "database_missing"
    assert not (clinic.data_dir / "vereda.db").exists()


def test_setup_refuses_an_existing_clinic(clinic: Clinic):
    err = error(ClinicStore.create, clinic.data_dir, clinic_name="x", municipality="y", admin_login="admin",
                admin_name="z", admin_passphrase=ADMIN_PASS, kdf=FAST_KDF)
    assert err.code == "already_initialised"
