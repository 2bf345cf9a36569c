"""`vereda init/demo/check/backup/restore` as IT staff run them: real processes, messages not tracebacks, Spanish by
default and English with --lang en."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.store.conftest import ADMIN_PASS, Clinic, vereda


def error_of(p) -> dict:
    assert "Traceback" not in p.stdout + p.stderr
    return json.loads(p.stderr)["error"]


def test_init_from_a_script_then_check(tmp_path: Path):
    secret = tmp_path / "admin.txt"
    secret.write_text("una frase de paso larga\n")
    data = tmp_path / "clinica"
    p = vereda("init", "--data-dir", str(data), "--clinic-name", "Puesto La Esperanza", "--municipality", "Inzá",
               "--admin-name", "Ana", "--admin-passphrase-file", str(secret))
    assert p.returncode == 0, p.stderr
    assert "CLAVE DE RECUPERACIÓN" in p.stdout
    recovery = re.search(r"([A-Z2-7]{4}-){8}[A-Z2-7]{4}", p.stdout)
    assert recovery is not None
    assert recovery.group(0) not in (data / "keys.json").read_text()  # shown once, never stored

    again = vereda("--lang", "en", "init", "--data-dir", str(data), "--clinic-name", "x", "--municipality", "y",
                   "--admin-name", "z", "--admin-passphrase-file", str(secret))
    assert again.returncode == 1 and error_of(again)["code"] == "already_initialised"

    key_file = tmp_path / "recovery.txt"
    key_file.write_text(recovery.group(0))
    p = vereda("--lang", "en", "check", "--data-dir", str(data), "--recovery-key-file", str(key_file))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "All checks" in p.stdout


def test_init_without_terminal_or_with_a_short_passphrase_says_what_to_do(tmp_path: Path):
    p = vereda("init", "--data-dir", str(tmp_path / "c"), "--clinic-name", "x", "--municipality", "y",
               "--admin-name", "z", stdin="")
    assert p.returncode == 2 and error_of(p)["code"] == "no_terminal"
    assert "--admin-passphrase-file" in error_of(p)["message"]
    (tmp_path / "short").write_text("corta")
    p = vereda("--lang", "en", "init", "--data-dir", str(tmp_path / "c"), "--clinic-name", "x", "--municipality",
               "y", "--admin-name", "z", "--admin-passphrase-file", str(tmp_path / "short"))
    assert p.returncode == 2 and "at least 10 characters" in error_of(p)["message"]
    assert not (tmp_path / "c" / "keys.json").exists()


def test_demo_clinic_uses_the_real_engine_and_passes_its_check(tmp_path: Path):
    data = tmp_path / "demo"
    p = vereda("demo", "--data-dir", str(data), "--patients", "4", "--seed", "7")
    assert p.returncode == 0, p.stderr
    match = re.search(r"Usuario: admin\s+Contraseña: (\S+)", p.stdout)
    assert match is not None, p.stdout
    assert "4 pacientes sintéticos" in p.stdout
    (tmp_path / "pass").write_text(match.group(1))
    p = vereda("check", "--data-dir", str(data), "--passphrase-file", str(tmp_path / "pass"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Todas las comprobaciones" in p.stdout


def test_backup_and_restore_commands(clinic: Clinic, tmp_path: Path):
    (tmp_path / "pass").write_text(ADMIN_PASS)
    (tmp_path / "rk").write_text(clinic.recovery_key)
    usb = tmp_path / "usb" / "clinica.vbak"
    p = vereda("--lang", "en", "backup", "--data-dir", str(clinic.data_dir), "--passphrase-file",
               str(tmp_path / "pass"), "--output", str(usb))
    assert p.returncode == 0, p.stderr
    assert "Encrypted backup written" in p.stdout and usb.exists()

    p = vereda("restore", "--data-dir", str(tmp_path / "nuevo"), "--input", str(usb), "--recovery-key-file",
               str(tmp_path / "rk"))
    assert p.returncode == 0, p.stderr
    assert "Copia restaurada" in p.stdout
    # Over the original (which logged the backup after it was taken, so it is newer): refused, then forced.
    p = vereda("restore", "--data-dir", str(clinic.data_dir), "--input", str(usb), "--recovery-key-file",
               str(tmp_path / "rk"))
    assert p.returncode == 1 and error_of(p)["code"] == "backup_target_newer"
    assert "--force" in error_of(p)["message"]
    p = vereda("--lang", "en", "restore", "--data-dir", str(clinic.data_dir), "--input", str(usb),
               "--recovery-key-file", str(tmp_path / "rk"), "--force")
    assert p.returncode == 0, p.stderr
    assert "previous database was kept in" in p.stdout


def test_wrong_passphrase_and_missing_clinic_are_messages(clinic: Clinic, tmp_path: Path):
    (tmp_path / "wrong").write_text("no es la clave")
    p = vereda("check", "--data-dir", str(clinic.data_dir), "--passphrase-file", str(tmp_path / "wrong"))
    assert p.returncode == 1
    assert error_of(p) == {"code": "wrong_credentials", "field": None, "message": "Usuario o contraseña incorrectos."}
    p = vereda("--lang", "en", "check", "--data-dir", str(tmp_path / "nothing"), "--passphrase-file",
               str(tmp_path / "wrong"))
    assert p.returncode == 1 and "vereda init" in error_of(p)["message"]
    p = vereda("backup", "--data-dir", str(clinic.data_dir), "--passphrase-file", str(tmp_path / "missing"),
               "--output", str(tmp_path / "b"))
    assert p.returncode == 2 and error_of(p)["code"] == "unreadable_file"
