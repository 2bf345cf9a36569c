"""The clinic's encrypted patient store: first-run setup, login and lock, and the parts an unlocked store is made of.

A `ClinicStore` exists only while unlocked: `ClinicStore.unlock(...)` (or `create`, or the recovery key) returns one
bound to the person who logged in, and `lock()` closes the database, writes the audit anchor and overwrites the key
buffers. Its work is done by parts, each a small class in its own module with a public API returning frozen records
(app/store/records.py), never ORM rows, the way Anki hangs `col.decks` and `col.models` off its collection:

    store.users      accounts (app/store/users.py)          store.patients   patients (app/store/patients.py)
    store.encounters consultations (app/store/encounters.py) store.outbox     feedback to send (app/store/outbox.py)
    store.settings   declared settings (app/store/settings.py, app/store/config_vars.py)
    store.bundles    installed models (app/store/bundles.py)  store.audit      the audit log (app/store/audit_log.py)

Every part checks the role of the person through the shared `StoreContext` (app/store/context.py), which also locks
the store after the idle time (the UI locks earlier on its own timer; this is the backstop), and writes an audit
entry in the same transaction as the work it records, so nothing happens unlogged. Reads of patient records are
logged too, which makes every call a small write; the audit never records names, documents or search text, only
ids, counts and codes. Backups and restores go through `backup()` and `ClinicStore.restore()`.

Threading: not thread-safe. The app calls it from its one database worker thread (see STYLE.md, Anki's task
manager); the CLI and tests call it from the main thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlcipher3
from sqlalchemy.exc import DBAPIError

from app import paths
from app.store.audit_log import AuditLog
from app.store.backup import RestoreResult, restore_files, write_backup
from app.store.bundles import Bundles
from app.store.check import CheckReport
from app.store.context import (
    EMERGENCY_USER,
    SYSTEM,
    DataFolder,
    Principal,
    StoreContext,
    new_id,
    required_text,
    validate_login,
)
from app.store.database import Database, disk_errors, open_database
from app.store.encounters import Encounters
from app.store.keys import (
    DEFAULT_KDF,
    KdfParams,
    Keyring,
    KeyWrap,
    SecretKey,
    check_passphrase_strength,
    generate_recovery_key,
    normalise_passphrase,
    open_wrap,
    parse_recovery_key,
    seal,
)
from app.store.login_attempts import RECOVERY, UNKNOWN, LoginAttempts
from app.store.messages import StoreError
from app.store.models import Clinic, User, utcnow
from app.store.outbox import Outbox
from app.store.patients import Patients
from app.store.records import ClinicRecord
from app.store.settings import Settings
from app.store.users import Users

log = logging.getLogger(__name__)


def default_data_dir() -> Path:
    """Where the clinic's data lives unless IT staff say otherwise (app/paths.py)."""
    return paths.data_dir()


class ClinicStore:
    """An unlocked store, bound to one person. Create with `create`, `unlock` or `unlock_with_recovery_key`."""

    def __init__(self, folder: DataFolder, db: Database, key: SecretKey, keyring: Keyring, principal: Principal,
                 clock: Callable[[], float]) -> None:
        self.context = StoreContext(folder, db, key, keyring, principal, clock)
        self.users = Users(self.context)
        self.patients = Patients(self.context)
        self.encounters = Encounters(self.context)
        self.outbox = Outbox(self.context)
        self.settings = Settings(self.context)
        self.bundles = Bundles(self.context)
        self.audit = AuditLog(self.context)
        self._clinic: ClinicRecord | None = None

    @property
    def principal(self) -> Principal:
        return self.context.principal

    @property
    def clinic(self) -> ClinicRecord:
        """The clinic's name and place (read once at unlock; no permission needed, no patient data)."""
        if self._clinic is None:
            raise StoreError("locked")
        return self._clinic

    @property
    def folder(self) -> DataFolder:
        return self.context.folder

    @property
    def auto_lock_seconds(self) -> float:
        return self.context.auto_lock_seconds

    # ================================================================================================ setup/unlock
    @classmethod
    def create(cls, data_dir: Path, *, clinic_name: str, municipality: str, admin_login: str, admin_name: str,
               admin_passphrase: str, kdf: KdfParams = DEFAULT_KDF,
               clock: Callable[[], float] = time.time) -> tuple[ClinicStore, str]:
        """First-run setup: the clinic, its administrator and the recovery key (returned once, never stored).

        Builds in `data_dir` itself; `vereda init` and `vereda demo` call it on a staging folder and rename that into
        place (app/store/setup.py), so a crash there leaves no half-made clinic."""
        folder = DataFolder(Path(data_dir))
        if folder.keyring.exists():
            raise StoreError("already_initialised", path=str(folder.root))
        clinic_name = required_text(clinic_name, "clinic_name")
        municipality = required_text(municipality, "municipality")
        admin_login = validate_login(admin_login)
        admin_name = required_text(admin_name, "display_name")
        check_passphrase_strength(admin_passphrase)
        with disk_errors(folder.root):
            return cls._create(folder, clinic_name=clinic_name, municipality=municipality, admin_login=admin_login,
                               admin_name=admin_name, admin_passphrase=admin_passphrase, kdf=kdf, clock=clock)

    @classmethod
    def _create(cls, folder: DataFolder, *, clinic_name: str, municipality: str, admin_login: str, admin_name: str,
                admin_passphrase: str, kdf: KdfParams, clock: Callable[[], float]) -> tuple[ClinicStore, str]:
        from app.store.files import make_private_dir

        make_private_dir(folder.root)
        cls._set_aside_orphan_database(folder)

        key = SecretKey.generate()
        clinic_id, admin_id = secrets.token_hex(16), new_id()
        recovery_key = generate_recovery_key()
        keyring = Keyring(clinic_id)
        keyring.put(seal(key, normalise_passphrase(admin_passphrase), clinic_id=clinic_id, kind="user",
                         user_id=admin_id, login=admin_login, kdf=kdf))
        keyring.put(seal(key, parse_recovery_key(recovery_key), clinic_id=clinic_id, kind="recovery",
                         user_id=EMERGENCY_USER, login=EMERGENCY_USER, kdf=kdf))
        db = open_database(folder.db, key, create=True)
        principal = Principal(admin_id, admin_login, admin_name, "admin")
        store = cls(folder, db, key, keyring, principal, clock)
        try:
            now = utcnow()
            c = store.context
            with c.transaction() as s:
                s.add(Clinic(id=clinic_id, name=clinic_name, municipality=municipality, created_at=now,
                             pseudonym_key=secrets.token_bytes(32)))
                s.add(User(id=admin_id, login=admin_login, display_name=admin_name, role="admin", active=True,
                           must_change_passphrase=False, created_at=now, created_by=None))
                c.audit(s, "clinic.create", f"clinic:{clinic_id}")
                c.audit(s, "user.add", f"user:{admin_id}", {"role": "admin", "login": admin_login})
                c.audit(s, "recovery_key.create", None, {"shown": "once"})
                # The keyring is the last thing written: until it exists nobody can open the database, and a
                # half-finished setup is simply run again.
                keyring.save(folder.keyring)
            store._load_clinic()
            c.anchor_head()
        except BaseException:
            store.context.close(clean=True)
            raise
        return store, recovery_key

    @staticmethod
    def _set_aside_orphan_database(folder: DataFolder) -> None:
        # A database without a keyring can come from an interrupted setup, or from a keyring deleted by mistake;
        # in the second case a backup's keyring can still open it, so it is kept, never deleted.
        if not folder.db.exists():
            return
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        for path in folder.database_files():
            if path.exists():
                path.rename(path.with_name(f"{path.name}.orphan-{stamp}"))

    @classmethod
    def unlock(cls, data_dir: Path, login: str, passphrase: str,
               clock: Callable[[], float] = time.time) -> ClinicStore:
        """Log in with a user's passphrase. Wrong credentials raise `wrong_credentials`; repeated failures
        raise `too_many_attempts` until the back-off has passed."""
        with disk_errors(Path(data_dir)):
            return cls._unlock(data_dir, login, passphrase, clock)

    @classmethod
    def _unlock(cls, data_dir: Path, login: str, passphrase: str, clock: Callable[[], float]) -> ClinicStore:
        folder = DataFolder(Path(data_dir))
        keyring = folder.load_keyring()
        attempts = LoginAttempts(folder.attempts, clock)
        login = login.strip().lower()
        wrap = keyring.user_wrap(login)
        counter = login if wrap is not None else UNKNOWN
        attempts.check_allowed(counter)
        if wrap is None:
            # Same work as a real attempt, so the time taken does not say which user names exist.
            decoy = keyring.recovery_wrap()
            open_wrap(KeyWrap("user", "", "", decoy.kdf, decoy.salt, decoy.nonce, decoy.sealed),
                      normalise_passphrase(passphrase), keyring.clinic_id)
            attempts.record_failure(UNKNOWN, "unknown_user")
            raise StoreError("wrong_credentials")
        key = open_wrap(wrap, normalise_passphrase(passphrase), keyring.clinic_id)
        if key is None:
            attempts.record_failure(login, "wrong_passphrase")
            raise StoreError("wrong_credentials")
        return cls._open(folder, keyring, key, attempts, counter, wrap.user_id, clock)

    @classmethod
    def unlock_with_recovery_key(cls, data_dir: Path, recovery_key: str,
                                 clock: Callable[[], float] = time.time) -> ClinicStore:
        """Emergency access with the recovery key: acts as an administrator and is logged as emergency access."""
        with disk_errors(Path(data_dir)):
            return cls._unlock_with_recovery_key(data_dir, recovery_key, clock)

    @classmethod
    def _unlock_with_recovery_key(cls, data_dir: Path, recovery_key: str,
                                  clock: Callable[[], float]) -> ClinicStore:
        folder = DataFolder(Path(data_dir))
        keyring = folder.load_keyring()
        attempts = LoginAttempts(folder.attempts, clock)
        attempts.check_allowed(RECOVERY)
        secret = parse_recovery_key(recovery_key)
        key = open_wrap(keyring.recovery_wrap(), secret, keyring.clinic_id)
        if key is None:
            attempts.record_failure(RECOVERY, "wrong_recovery_key")
            raise StoreError("wrong_recovery_key")
        return cls._open(folder, keyring, key, attempts, RECOVERY, EMERGENCY_USER, clock)

    @classmethod
    def _open(cls, folder: DataFolder, keyring: Keyring, key: SecretKey, attempts: LoginAttempts, counter: str,
              user_id: str, clock: Callable[[], float]) -> ClinicStore:
        try:
            db = open_database(folder.db, key)
        except StoreError as exc:
            key.wipe()
            if exc.code == "database_key_mismatch":
                # The key came out of an authenticated wrap, so it is the right one: the file is what is wrong.
                raise StoreError("database_damaged", path=str(folder.db), detail="page 1") from exc
            raise
        except BaseException:
            key.wipe()
            raise
        emergency = user_id == EMERGENCY_USER
        placeholder = Principal(user_id, EMERGENCY_USER if emergency else "", "", "admin", emergency=emergency)
        store = cls(folder, db, key, keyring, placeholder, clock)
        pending: list[dict[str, Any]] = []
        try:
            if db.unclean_shutdown:
                store._check_after_crash()
            c = store.context
            with c.transaction() as s:
                if emergency:
                    principal = placeholder
                else:
                    user = s.get(User, user_id)
                    if user is None or not user.active:
                        c.audit(s, "login.refused", f"user:{user_id}", {"reason": "disabled"}, actor=user_id)
                        principal = None
                    else:
                        principal = Principal(user.id, user.login, user.display_name, user.role,
                                              must_change_passphrase=user.must_change_passphrase)
                if principal is not None:
                    c.principal = principal
                    pending = attempts.record_success(counter)
                    for failure in pending:
                        c.audit(s, "login.failed", None, failure, actor=SYSTEM)
                    c.audit(s, "emergency_access" if emergency else "login", f"user:{user_id}")
            if principal is None:
                attempts.record_failure(counter, "disabled")
                raise StoreError("user_disabled", login=counter)
            attempts.forget_audited(len(pending))
            store._load_clinic()
            c.auto_lock_seconds = store.settings.auto_lock_minutes() * 60.0
        except BaseException:
            store.context.close(clean=not db.unclean_shutdown)
            raise
        return store

    def _check_after_crash(self) -> None:
        """The last session ended without closing the database: verify it before anyone works on it."""
        c = self.context
        report = c.run_checks()
        db = c.database
        try:
            with c.transaction() as s:
                c.audit(s, "store.unclean_shutdown", None,
                        {"checks_ok": report.ok, "failed": [r.name for r in report.failed]}, actor=SYSTEM)
        except (StoreError, DBAPIError, sqlcipher3.DatabaseError):
            if report.ok:
                raise
            log.exception("could not log the failed check after an unclean shutdown")
        if not report.ok:
            detail = ", ".join(r.name.removeprefix("check.") for r in report.failed)
            error = StoreError("database_damaged", path=str(db.path), detail=detail)
            error.report = report  # `vereda check` prints it whole
            raise error

    def _load_clinic(self) -> None:
        c = self.context
        with c.transaction() as s:
            clinic = s.get(Clinic, c.clinic_id)
            if clinic is None:
                raise StoreError("database_damaged", path=str(c.folder.db), detail="clinic")
            c.pseudonym_key = bytearray(clinic.pseudonym_key)
            self._clinic = ClinicRecord.from_row(clinic)

    # ================================================================================================ lock
    @property
    def locked(self) -> bool:
        return self.context.locked

    def lock(self, reason: str = "user") -> None:
        """Log the lock, anchor the audit log, close the database and overwrite the keys we hold."""
        self.context.lock(reason)

    def __enter__(self) -> ClinicStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock(reason="close")

    # ================================================================================================ maintenance
    def check(self) -> CheckReport:
        """Run every check; anchor the audit log again when its chain and anchor are sound."""
        c = self.context
        c.require("maintain")
        report = c.run_checks()
        try:
            with c.transaction() as s:
                c.audit(s, "check", None, {"ok": report.ok, "failed": [r.name for r in report.failed]})
        except (StoreError, DBAPIError, sqlcipher3.DatabaseError):
            # A damaged database may refuse the audit entry; the report is still the answer IT staff need.
            log.exception("could not log the check")
            return report
        audit_ok = all(not r.problems for r in report.results if r.name.startswith("check.audit"))
        if audit_ok:
            c.anchor_head()
        return report

    def backup(self, target: Path) -> Path:
        """Write an encrypted backup file (see app/store/backup.py); restore it with `ClinicStore.restore`."""
        c = self.context
        c.require("maintain")
        with c.transaction() as s:
            c.audit(s, "backup.export", None, {"file": Path(target).name})
        with disk_errors(Path(target).parent):
            return write_backup(c.database, c.keyring, c.key, Path(target))

    @classmethod
    def restore(cls, backup: Path, data_dir: Path, recovery_key: str, *, force: bool = False,
                clock: Callable[[], float] = time.time) -> RestoreResult:
        """Restore a backup into `data_dir` with the recovery key (the rules are in app/store/backup.py), then log
        the restore as emergency access in the restored database's audit log and lock it again."""
        with disk_errors(Path(data_dir)):
            restored = restore_files(Path(backup), Path(data_dir), recovery_key, force=force, clock=clock)
        store = cls._open(restored.folder, restored.header.keyring, restored.key, restored.attempts, RECOVERY,
                          EMERGENCY_USER, clock)
        try:
            c = store.context
            with c.transaction() as s:
                c.audit(s, "backup.restore", None, {"backup_created_at": restored.header.created_at,
                                                    "backup_audit_seq": restored.header.audit_seq,
                                                    "relation": restored.result.relation, "forced": force})
        finally:
            store.lock(reason="restore")
        return restored.result
