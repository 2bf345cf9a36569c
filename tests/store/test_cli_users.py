"""`vereda user ...` as an administrator runs it: real processes on a real encrypted clinic; every change audited."""

from __future__ import annotations

import json
from pathlib import Path

from app.store import ClinicStore
from tests.store.conftest import ADMIN_PASS, Clinic, vereda


def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    admin, temporary, recovery = tmp_path / "admin.txt", tmp_path / "temporal.txt", tmp_path / "recovery.txt"
    admin.write_text(ADMIN_PASS + "\n")
    temporary.write_text("clave temporal del doctor\n")
    return admin, temporary, recovery


def test_an_administrator_adds_lists_resets_and_disables_a_doctor(clinic: Clinic, tmp_path: Path) -> None:
    admin, temporary, recovery = files(tmp_path)
    where = ("--data-dir", str(clinic.data_dir))
    p = vereda("user", "add", "pedro", "--name", "Dr. Pedro Quispe", *where, "--passphrase-file", str(admin),
               "--new-passphrase-file", str(temporary))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["added"] == {"login": "pedro", "name": "Dr. Pedro Quispe", "role": "doctor",
                                            "active": True, "must_change_passphrase": True}
    with ClinicStore.unlock(clinic.data_dir, "pedro", "clave temporal del doctor") as pedro:
        assert pedro.principal.must_change_passphrase

    listed = json.loads(vereda("user", "list", *where, "--passphrase-file", str(admin)).stdout)["users"]
    assert {u["login"] for u in listed} == {"admin", "doctora", "pedro"}

    # The doctor forgot her passphrase: the administrator, with the recovery key, gives her a temporary one.
    recovery.write_text(clinic.recovery_key)
    p = vereda("user", "reset-passphrase", "doctora", *where, "--recovery-key-file", str(recovery),
               "--new-passphrase-file", str(temporary))
    assert p.returncode == 0, p.stderr
    with ClinicStore.unlock(clinic.data_dir, "doctora", "clave temporal del doctor") as doctora:
        assert doctora.principal.must_change_passphrase

    p = vereda("user", "disable", "pedro", *where, "--passphrase-file", str(admin))
    assert p.returncode == 0, p.stderr
    refused = vereda("check", *where, "--user", "pedro", "--passphrase-file", str(temporary))
    assert refused.returncode == 1 and json.loads(refused.stderr)["error"]["code"] in ("user_disabled",
                                                                                       "wrong_credentials")
    with clinic.admin() as store:
        actions = [e.action for e in store.audit.entries(limit=50)]
    assert {"user.add", "user.reset_passphrase", "user.disable"} <= set(actions), actions


def test_mistakes_are_exit_2_with_a_message(clinic: Clinic, tmp_path: Path) -> None:
    admin, temporary, _ = files(tmp_path)
    where = ("--data-dir", str(clinic.data_dir), "--passphrase-file", str(admin))
    unknown = vereda("--lang", "en", "user", "disable", "nadie", *where)
    assert unknown.returncode == 2 and json.loads(unknown.stderr)["error"]["code"] == "unknown_user"
    taken = vereda("user", "add", "doctora", "--name", "Otra", *where, "--new-passphrase-file", str(temporary))
    assert taken.returncode == 2 and json.loads(taken.stderr)["error"]["code"] == "login_taken"
    assert "Traceback" not in unknown.stderr + taken.stderr
