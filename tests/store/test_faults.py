"""Issue 14.8: the store under kill -9, foreign files, a lost -wal file, loose permissions and a full disk, driven
through the real `vereda` command as IT staff would.

- `vereda demo` killed halfway leaves no folder (it is built beside the target and renamed into place); the retry
  works; a half-made folder from an older Vereda gets a hint instead of an obscure failure.
- `vereda check` on an empty or foreign database file says so and writes nothing to it.
- Committed work lost with the -wal file after a crash is reported (the audit head lives outside the database).
- Backups are 0600 whatever the umask.
- A full disk, for real: a small tmpfs (ENOSPC) when this machine lets us mount one, and always a process file-size
  limit (RLIMIT_FSIZE, so EFBIG): a clear localised error, never a traceback or a false "damaged", and nothing that
  was acknowledged is lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.store import ClinicStore
from tests.store.conftest import ADMIN_PASS, DOCTOR_PASS, FAST_KDF, ROOT, Clinic, make_clinic

PAGE = 4096


def run(*args: str, logs: Path, lang: str = "en", limit: int | None = None,
        timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`vereda --lang LANG ARGS` as a real process; `limit` caps the size of every file it writes (RLIMIT_FSIZE)."""
    def file_size_limit() -> None:
        assert limit is not None
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "VEREDA_LOG_DIR": str(logs)}
    return subprocess.run([sys.executable, "-m", "app.cli", "--lang", lang, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env, preexec_fn=file_size_limit if limit else None)


def error_of(p: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert "Traceback" not in p.stdout + p.stderr, p.stderr
    return json.loads(p.stderr)["error"]  # type: ignore[no-any-return]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def secret(tmp_path: Path, name: str, value: str) -> Path:
    path = tmp_path / name
    path.write_text(value + "\n", encoding="utf-8")
    return path


# --- init and demo are atomic ---------------------------------------------------------------------------------------


def test_demo_killed_halfway_leaves_no_folder_and_the_retry_works(tmp_path: Path) -> None:
    logs, target = tmp_path / "logs", tmp_path / "demo"
    env = {**os.environ, "VEREDA_LOG_DIR": str(logs)}
    demo = subprocess.Popen([sys.executable, "-m", "app.cli", "demo", "--data-dir", str(target), "--patients", "400",
                             "--seed", "3"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        # Wait until the demo is writing patients (its database holds more than the empty schema), then kill it.
        while time.monotonic() < deadline and demo.poll() is None:
            staged = [p / "vereda.db" for p in tmp_path.glob(".demo.setup-*")]
            if staged and staged[0].exists() and staged[0].stat().st_size > 400_000:
                break
            time.sleep(0.05)
        assert demo.poll() is None, "the demo finished before it could be killed; give it more patients"
        demo.send_signal(signal.SIGKILL)
    finally:
        demo.wait(timeout=30)
        assert demo.stdout is not None and demo.stderr is not None
        demo.stdout.close()
        demo.stderr.close()
    assert demo.returncode == -signal.SIGKILL
    assert not target.exists()  # absent, not half made
    assert list(tmp_path.glob(".demo.setup-*")), "the killed demo's staging folder should be what is left"

    again = run("demo", "--data-dir", str(target), "--patients", "3", "--seed", "4", logs=logs)
    assert again.returncode == 0, again.stderr
    assert not list(tmp_path.glob(".demo.setup-*"))  # the retry cleared what the killed one left
    passphrase = re.search(r"User: admin\s+Passphrase: (\S+)", again.stdout)
    assert passphrase is not None, again.stdout
    check = run("check", "--data-dir", str(target), "--passphrase-file",
                str(secret(tmp_path, "pass", passphrase.group(1))), logs=logs)
    assert check.returncode == 0, check.stdout + check.stderr
    assert oct((target).stat().st_mode & 0o777) == oct(0o700)


def test_init_creates_the_folder_whole_or_not_at_all(tmp_path: Path) -> None:
    logs, target = tmp_path / "logs", tmp_path / "empty-already"
    target.mkdir()  # an empty folder someone prepared is fine: it is replaced by the built one
    args = ("init", "--data-dir", str(target), "--clinic-name", "Puesto La Esperanza", "--municipality", "Inzá",
            "--admin-name", "Ana", "--admin-passphrase-file", str(secret(tmp_path, "admin", ADMIN_PASS)))
    done = run(*args, logs=logs, lang="es")
    assert done.returncode == 0, done.stderr
    assert {p.name for p in target.iterdir()} >= {"keys.json", "vereda.db", "audit-anchor.json"}
    assert not list(tmp_path.glob(".empty-already.setup-*"))
    again = run(*args, logs=logs)
    assert again.returncode == 1 and error_of(again)["code"] == "already_initialised"


@pytest.mark.parametrize("leftover", ["keys_and_empty_db", "keys_without_db", "db_without_keys"])
def test_a_half_made_folder_from_an_older_version_gets_a_hint(tmp_path: Path, leftover: str) -> None:
    logs, target = tmp_path / "logs", tmp_path / "half"
    clinic = make_clinic(tmp_path / "source")
    target.mkdir()
    # What the earlier Vereda left when killed inside setup (the keyring was saved before the first commit).
    if leftover != "db_without_keys":
        shutil.copy2(clinic.data_dir / "keys.json", target / "keys.json")
    if leftover == "keys_and_empty_db":
        (target / "vereda.db").touch()
    if leftover == "db_without_keys":
        shutil.copy2(clinic.data_dir / "vereda.db", target / "vereda.db")
    before = {p.name: digest(p) for p in target.iterdir()}
    args = ("init", "--data-dir", str(target), "--clinic-name", "x", "--municipality", "y", "--admin-name", "z",
            "--admin-passphrase-file", str(secret(tmp_path, "admin", ADMIN_PASS)))
    es = run(*args, logs=logs, lang="es")
    assert es.returncode == 1 and error_of(es)["code"] == "unfinished_setup"
    assert "instalación sin terminar" in error_of(es)["message"] and "muévala" in error_of(es)["message"]
    en = run("demo", "--data-dir", str(target), "--patients", "1", logs=logs)
    assert en.returncode == 1 and error_of(en)["code"] == "unfinished_setup"
    assert "unfinished setup" in error_of(en)["message"]
    assert {p.name: digest(p) for p in target.iterdir()} == before  # nothing touched
    # And once moved aside, as the hint says, the same command works.
    target.rename(tmp_path / "half-moved-aside")
    assert run(*args, logs=logs).returncode == 0


# --- check on a file that cannot be the clinic's -------------------------------------------------------------------


def _plain_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notas (texto TEXT)")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("kind", ["empty", "plain_sqlite", "text"])
def test_check_on_an_empty_or_foreign_database_reports_damage_and_writes_nothing(clinic: Clinic, tmp_path: Path,
                                                                                  kind: str) -> None:
    db = clinic.data_dir / "vereda.db"
    db.unlink()
    if kind == "empty":
        db.touch()
    elif kind == "plain_sqlite":
        _plain_sqlite(db)
    else:
        db.write_text("lista de pacientes del martes\n" * 20, encoding="utf-8")
    before, stamp = digest(db), db.stat().st_mtime_ns
    out = run("check", "--data-dir", str(clinic.data_dir), "--passphrase-file",
              str(secret(tmp_path, "pass", ADMIN_PASS)), logs=tmp_path / "logs")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    assert "disabled" not in out.stdout + out.stderr
    expected = {"empty": "is empty (0 bytes)", "plain_sqlite": "not an encrypted Vereda database",
                "text": "is damaged"}[kind]
    assert expected in out.stdout, out.stdout
    assert digest(db) == before and db.stat().st_mtime_ns == stamp  # not written to
    assert not db.with_name("vereda.db-wal").exists()


# --- committed work lost with the -wal file ------------------------------------------------------------------------

WRITER = """
import sys, time
from app.store import ClinicStore
store = ClinicStore.unlock(sys.argv[1], "doctora", sys.argv[2])
for i in range(5):
    store.patients.add(given_names=f"Paciente {i}", family_names="Prueba", sex="F")
print("committed", flush=True)
time.sleep(600)
"""


def test_a_wal_deleted_after_a_crash_is_reported_as_committed_work_lost(clinic: Clinic, tmp_path: Path) -> None:
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(clinic.data_dir), DOCTOR_PASS], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "committed"  # five patients acknowledged, each a commit
        wal = clinic.data_dir / "vereda.db-wal"
        assert wal.exists() and wal.stat().st_size > 0  # ... still in the WAL, not yet in the database file
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.wait(timeout=30)
        if writer.stdout:
            writer.stdout.close()
    wal.unlink()  # what a careless clean-up or a disk tool does after the crash
    clinic.data_dir.joinpath("vereda.db-shm").unlink(missing_ok=True)
    pass_file = secret(tmp_path, "pass", ADMIN_PASS)
    for lang, words in (("en", "committed work lost"), ("es", "trabajo ya guardado se perdió")):
        out = run("check", "--data-dir", str(clinic.data_dir), "--passphrase-file", str(pass_file),
                  logs=tmp_path / "logs", lang=lang)
        assert out.returncode == 1, out.stdout + out.stderr
        assert words in out.stdout, out.stdout
        assert "Traceback" not in out.stdout + out.stderr


def test_the_audit_head_is_kept_outside_the_database_at_every_commit(clinic: Clinic) -> None:
    from app.store.audit import AuditAnchor

    with clinic.doctor() as doctor:
        anchor = AuditAnchor(clinic.data_dir / "audit-anchor.json", doctor.context.key.derive("audit-anchor"))
        for i in range(3):
            doctor.patients.add(given_names=f"P {i}", family_names="Prueba", sex="M")
            assert anchor.read() == doctor.context.database.audit_head()
        assert oct((clinic.data_dir / "audit-anchor.json").stat().st_mode & 0o777) == oct(0o600)


# --- backups are private ---------------------------------------------------------------------------------------------


def test_backup_files_are_written_0600_whatever_the_umask(clinic: Clinic, tmp_path: Path) -> None:
    target = tmp_path / "usb" / "copia.vbk"
    old = os.umask(0o022)
    try:
        out = run("backup", "--data-dir", str(clinic.data_dir), "--passphrase-file",
                  str(secret(tmp_path, "pass", ADMIN_PASS)), "--output", str(target), logs=tmp_path / "logs")
    finally:
        os.umask(old)
    assert out.returncode == 0, out.stderr
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)
    assert not list(clinic.data_dir.glob(".backup-*"))


# --- a full disk ---------------------------------------------------------------------------------------------------


def _can_mount_tmpfs(where: Path) -> bool:
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir(parents=True, exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)],
                        capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", str(where)], check=True)
    return ok


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 3 MB filesystem (tmpfs) that fills up: ENOSPC as on a laptop whose disk is full."""
    disk = tmp_path / "disk"
    if not _can_mount_tmpfs(disk):
        pytest.skip("cannot mount a tmpfs here (needs Linux and root); the RLIMIT_FSIZE test still runs")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    """Fill `disk` up to `leave` bytes free; returns the filler file (delete it to free the space)."""
    filler = disk / "filler.bin"
    stat = os.statvfs(disk)
    free = stat.f_bavail * stat.f_frsize
    with filler.open("ab") as fh:
        fh.write(b"\0" * max(0, free - leave))
    return filler


def _grow(filler: Path, by: int) -> None:
    try:
        with filler.open("ab") as fh:
            fh.write(b"\0" * by)
    except OSError:
        pass  # the disk is already full


def _with_staff(data_dir: Path, count: int) -> list[str]:
    """`count` nurse accounts, made in process with the tests' cheap KDF (the disk tests then only disable them)."""
    logins = [f"enfermera{i:02d}" for i in range(count)]
    with ClinicStore.unlock(data_dir, "admin", ADMIN_PASS) as admin:
        for login in logins:
            admin.users.add(login, f"Enfermera {login[-2:]}", "nurse", DOCTOR_PASS, kdf=FAST_KDF)
    return logins


def _disable_until_refused(data_dir: Path, logins: list[str], tmp_path: Path, logs: Path, *,
                           squeeze: Callable[[], None], limit: int | None = None) -> tuple[list[str], dict[str, str]]:
    """`vereda user disable` one account after another, squeezing the disk before each; returns the logins whose
    disabling was acknowledged (exit 0) and the error of the first refusal."""
    admin = secret(tmp_path, "admin-pass", ADMIN_PASS)
    acknowledged: list[str] = []
    for login in logins:
        squeeze()
        out = run("user", "disable", login, "--data-dir", str(data_dir), "--passphrase-file", str(admin), logs=logs,
                  limit=limit)
        if out.returncode == 0:
            acknowledged.append(login)
            continue
        assert out.returncode == 1, out.stderr
        return acknowledged, error_of(out)
    pytest.fail(f"the disk never filled up after {len(logins)} changes")


def _everything_acknowledged_is_there(data_dir: Path, tmp_path: Path, logs: Path, acknowledged: list[str]) -> None:
    admin = secret(tmp_path, "admin-pass", ADMIN_PASS)
    check = run("check", "--data-dir", str(data_dir), "--passphrase-file", str(admin), logs=logs)
    assert check.returncode == 0, check.stdout + check.stderr
    listed = run("user", "list", "--data-dir", str(data_dir), "--passphrase-file", str(admin), logs=logs)
    assert listed.returncode == 0, listed.stderr
    disabled = {u["login"] for u in json.loads(listed.stdout)["users"] if not u["active"]}
    assert set(acknowledged) <= disabled, set(acknowledged) - disabled


def test_a_full_disk_gives_a_clear_error_and_loses_nothing_acknowledged(small_disk: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"  # the log is on another disk here; what the store says must not depend on it
    # init on a full disk: the clinic's error in both languages, and no folder, half or whole.
    filler = _fill(small_disk, leave=16 * 1024)
    args = ("init", "--data-dir", str(small_disk / "clinica"), "--clinic-name", "Puesto", "--municipality", "Inzá",
            "--admin-name", "Ana", "--admin-passphrase-file", str(secret(tmp_path, "admin", ADMIN_PASS)))
    for lang, words in (("es", "No queda espacio en el disco"), ("en", "The disk holding")):
        out = run(*args, logs=logs, lang=lang)
        assert out.returncode == 1 and error_of(out)["code"] == "disk_full", out.stderr
        assert words in error_of(out)["message"]
    assert {p.name for p in small_disk.iterdir()} == {"filler.bin"}
    filler.unlink()

    # A clinic in use whose disk fills up: every account the command acknowledged survives.
    clinic = make_clinic(small_disk / "clinica")
    staff = _with_staff(clinic.data_dir, 30)
    filler = _fill(small_disk, leave=160 * 1024)
    acknowledged, error = _disable_until_refused(clinic.data_dir, staff, tmp_path, logs,
                                                 squeeze=lambda: _grow(filler, 24 * 1024))
    assert error["code"] == "disk_full", error
    assert acknowledged, "the disk filled before the first account; leave more room"
    # A backup to the full disk says so too, and leaves no part-written file.
    backup = run("backup", "--data-dir", str(clinic.data_dir), "--passphrase-file",
                 str(secret(tmp_path, "admin-pass", ADMIN_PASS)), "--output", str(small_disk / "copia.vbk"),
                 logs=logs)
    assert backup.returncode == 1 and error_of(backup)["code"] in ("disk_full", "disk_write_failed"), backup.stderr
    assert not [p for p in small_disk.iterdir() if "copia" in p.name]
    assert not list(clinic.data_dir.glob(".backup-*"))
    filler.unlink()
    _everything_acknowledged_is_there(clinic.data_dir, tmp_path, logs, acknowledged)
    print(f"tmpfs: {len(acknowledged)} changes acknowledged before ENOSPC; all there after freeing space")


def test_a_file_size_limit_gives_a_clear_error_and_loses_nothing_acknowledged(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    clinic = make_clinic(tmp_path / "clinica")
    staff = _with_staff(clinic.data_dir, 60)
    # Every file the process writes may grow only to a little more than the database is now (page-aligned, as a
    # disk's blocks are): the WAL and then the checkpoint hit EFBIG.
    limit = (clinic.data_dir / "vereda.db").stat().st_size + PAGE
    acknowledged, error = _disable_until_refused(clinic.data_dir, staff, tmp_path, logs, squeeze=lambda: None,
                                                 limit=limit)
    assert error["code"] in ("disk_full", "disk_write_failed"), error  # never "database_damaged"
    assert acknowledged
    _everything_acknowledged_is_there(clinic.data_dir, tmp_path, logs, acknowledged)
    print(f"RLIMIT_FSIZE={limit}: {len(acknowledged)} changes acknowledged, then {error['code']}")
