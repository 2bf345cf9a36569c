"""The clinic's encrypted patient store: first-run setup, login and lock, users, patients, encounters, the feedback
outbox, installed model bundles, settings and the audit log, all through one `ClinicStore`.

A `ClinicStore` exists only while unlocked: `ClinicStore.unlock(...)` (or `create`, or the recovery key) returns one
bound to the person who logged in, and `lock()` closes the database, writes the audit anchor and overwrites the key
buffers. Every method checks the role of that person, locks itself after the idle time in the settings (the UI locks
earlier on its own timer; this is the backstop), and writes an audit entry in the same transaction as the work it
records, so nothing happens unlogged. Reads of patient records are logged too, which makes every call a small write;
the audit never records names, documents or search text, only ids, counts and codes.

Threading: not thread-safe. The app calls it from its one database worker thread (see STYLE.md, Anki's task
manager); the CLI and tests call it from the main thread.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlcipher3
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.exc import DatabaseError, DBAPIError
from sqlalchemy.orm import Session

from app import paths
from app.store.audit import GENESIS, AuditAnchor, entry_hash
from app.store.check import CheckReport, run_checks
from app.store.database import Database, open_database
from app.store.feedback import feedback_payload
from app.store.files import ANCHOR_FILE, ATTEMPTS_FILE, DB_FILE, KEYRING_FILE
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
from app.store.models import (
    DOCUMENT_TYPES,
    ROLES,
    SEXES,
    AuditEntry,
    Clinic,
    Encounter,
    FeedbackOutbox,
    InstalledModelBundle,
    Patient,
    PatientNameToken,
    Setting,
    User,
    dump_json,
    format_utc,
    utcnow,
)
from app.store.names import name_tokens, normalise_document, prefix_upper_bound, sort_key

log = logging.getLogger("vereda.store")

DEFAULT_AUTO_LOCK_MINUTES = 10
SEARCH_LIMIT = 50
EMERGENCY_USER = "recovery"
SYSTEM = "system"
_LOGIN = re.compile(r"^[a-z0-9._-]{2,32}$")
_ICD10 = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")
_ORPHA = re.compile(r"^ORPHA:[0-9]{1,7}$")
# An outbox row the central service refused for good carries this prefix in last_error and is no longer pending.
REFUSED_PREFIX = "refused: "
_NOT_REFUSED = or_(FeedbackOutbox.last_error.is_(None), ~FeedbackOutbox.last_error.startswith(REFUSED_PREFIX))
# Settings written by the sync client on behalf of whoever is logged in (a doctor's sync, a completed enrollment).
SYNC_SETTINGS = frozenset({"last_sync", "last_sync_result", "device_token", "device_id", "central_clinic_id",
                           "central_clinic_name", "enrollment_code"})
SECRET_SETTINGS = frozenset({"device_token"})

# Who may do what. Emergency access (the recovery key) acts as an administrator; it is logged as such.
PERMISSIONS: dict[str, frozenset[str]] = {
    "read_records": frozenset({"doctor", "nurse", "admin"}),
    "write_records": frozenset({"doctor", "nurse", "admin"}),
    "close_encounter": frozenset({"doctor"}),
    "manage_users": frozenset({"admin"}),
    "maintain": frozenset({"admin"}),  # backup, check, settings, model bundles, the audit log
    "sync": frozenset({"doctor", "nurse", "admin"}),
}


def default_data_dir() -> Path:
    """Where the clinic's data lives unless IT staff say otherwise (app/paths.py)."""
    return paths.data_dir()


@dataclass(frozen=True)
class DataFolder:
    """The files of one clinic's store. Everything in it is encrypted or holds no patient data."""

    root: Path

    @property
    def db(self) -> Path:
        return self.root / DB_FILE

    @property
    def keyring(self) -> Path:
        return self.root / KEYRING_FILE

    @property
    def attempts(self) -> Path:
        return self.root / ATTEMPTS_FILE

    @property
    def anchor(self) -> Path:
        return self.root / ANCHOR_FILE

    def database_files(self) -> list[Path]:
        return [self.db, self.db.with_name(DB_FILE + "-wal"), self.db.with_name(DB_FILE + "-shm")]

    def load_keyring(self) -> Keyring:
        try:
            return Keyring.load(self.keyring)
        except FileNotFoundError as exc:
            raise StoreError("not_initialised", path=str(self.root)) from exc


@dataclass(frozen=True)
class Principal:
    """Who is logged in. `user_id` is "recovery" for emergency access with the recovery key."""

    user_id: str
    login: str
    display_name: str
    role: str
    emergency: bool = False
    must_change_passphrase: bool = False


def new_id() -> str:
    return uuid.uuid4().hex


def _validate_login(login: str) -> str:
    login = login.strip().lower()
    if not _LOGIN.match(login):
        raise StoreError("invalid_login", login=login)
    return login


def _validate_role(role: str) -> str:
    if role not in ROLES:
        raise StoreError("invalid_role", role=role)
    return role


def diagnosis_code_system(code: str) -> str:
    if _ORPHA.match(code):
        return "ORPHA"
    if _ICD10.match(code):
        return "ICD10"
    raise StoreError("invalid_code", code=code)


def _required_text(value: str | None, field: str) -> str:
    if value is None or not str(value).strip():
        raise StoreError("missing_field", field=field)
    return str(value).strip()


class ClinicStore:
    """An unlocked store, bound to one person. Create with `create`, `unlock` or `unlock_with_recovery_key`."""

    def __init__(self, folder: DataFolder, db: Database, key: SecretKey, keyring: Keyring, principal: Principal,
                 clock: Callable[[], float]) -> None:
        self.folder = folder
        self._db: Database | None = db
        self._key = key
        self.keyring = keyring
        self.principal = principal
        self.clock = clock
        self.clinic_id = keyring.clinic_id
        self._anchor = AuditAnchor(folder.anchor, key.derive("audit-anchor"))
        self._pseudonym_key = bytearray()
        self.auto_lock_seconds = DEFAULT_AUTO_LOCK_MINUTES * 60.0
        self._last_activity = clock()

    # ================================================================================================ setup/unlock
    @classmethod
    def create(cls, data_dir: Path, *, clinic_name: str, municipality: str, admin_login: str, admin_name: str,
               admin_passphrase: str, kdf: KdfParams = DEFAULT_KDF,
               clock: Callable[[], float] = time.time) -> tuple[ClinicStore, str]:
        """First-run setup: the clinic, its administrator and the recovery key (returned once, never stored)."""
        from app.store.files import make_private_dir

        folder = DataFolder(Path(data_dir))
        if folder.keyring.exists():
            raise StoreError("already_initialised", path=str(folder.root))
        clinic_name = _required_text(clinic_name, "clinic_name")
        municipality = _required_text(municipality, "municipality")
        admin_login = _validate_login(admin_login)
        admin_name = _required_text(admin_name, "display_name")
        check_passphrase_strength(admin_passphrase)
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
            with store._tx() as s:
                s.add(Clinic(id=clinic_id, name=clinic_name, municipality=municipality, created_at=now,
                             pseudonym_key=secrets.token_bytes(32)))
                s.add(User(id=admin_id, login=admin_login, display_name=admin_name, role="admin", active=True,
                           must_change_passphrase=False, created_at=now, created_by=None))
                store._audit(s, "clinic.create", f"clinic:{clinic_id}")
                store._audit(s, "user.add", f"user:{admin_id}", {"role": "admin", "login": admin_login})
                store._audit(s, "recovery_key.create", None, {"shown": "once"})
                # The keyring is the last thing written: until it exists nobody can open the database, and a
                # half-finished setup is simply run again.
                keyring.save(folder.keyring)
            store._load_clinic()
            store._anchor_head()
        except BaseException:
            store._close(clean=True)
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
            with store._tx() as s:
                if emergency:
                    principal = placeholder
                else:
                    user = s.get(User, user_id)
                    if user is None or not user.active:
                        store._audit(s, "login.refused", f"user:{user_id}", {"reason": "disabled"},
                                     actor=user_id)
                        principal = None
                    else:
                        principal = Principal(user.id, user.login, user.display_name, user.role,
                                              must_change_passphrase=user.must_change_passphrase)
                if principal is not None:
                    store.principal = principal
                    pending = attempts.record_success(counter)
                    for failure in pending:
                        store._audit(s, "login.failed", None, failure, actor=SYSTEM)
                    store._audit(s, "emergency_access" if emergency else "login", f"user:{user_id}")
            if principal is None:
                attempts.record_failure(counter, "disabled")
                raise StoreError("user_disabled", login=counter)
            attempts.forget_audited(len(pending))
            store._load_clinic()
            minutes = store._setting_value("auto_lock_minutes", DEFAULT_AUTO_LOCK_MINUTES)
            store.auto_lock_seconds = float(minutes) * 60.0
        except BaseException:
            store._close(clean=not db.unclean_shutdown)
            raise
        return store

    def _check_after_crash(self) -> None:
        """The last session ended without closing the database: verify it before anyone works on it."""
        report = self._run_checks()
        db = self._require_db()
        try:
            with self._tx() as s:
                self._audit(s, "store.unclean_shutdown", None,
                            {"checks_ok": report.ok, "failed": [r.name for r in report.failed]}, actor=SYSTEM)
        except (StoreError, DBAPIError, sqlcipher3.DatabaseError):
            if report.ok:
                raise
            log.exception("could not log the failed check after an unclean shutdown")
        if not report.ok:
            detail = ", ".join(r.name.removeprefix("check.") for r in report.failed)
            raise StoreError("database_damaged", path=str(db.path), detail=detail)

    def _load_clinic(self) -> None:
        with self._tx() as s:
            clinic = s.get(Clinic, self.clinic_id)
            if clinic is None:
                raise StoreError("database_damaged", path=str(self.folder.db), detail="clinic")
            self._pseudonym_key = bytearray(clinic.pseudonym_key)

    # ================================================================================================ lock
    @property
    def locked(self) -> bool:
        return self._db is None

    def lock(self, reason: str = "user") -> None:
        """Log the lock, anchor the audit log, close the database and overwrite the keys we hold."""
        if self._db is None:
            return
        clean = True
        try:
            with self._tx() as s:
                self._audit(s, "lock", f"user:{self.principal.user_id}", {"reason": reason})
            self._anchor_head()
        except (StoreError, DBAPIError, sqlcipher3.DatabaseError):
            # Locking must always drop the keys. A database too damaged to log the lock is left marked "open",
            # so the next unlock runs the integrity checks again.
            log.exception("could not log the lock; closing anyway")
            clean = False
        finally:
            self._close(clean=clean)

    def _close(self, clean: bool) -> None:
        db, self._db = self._db, None
        try:
            if db is not None:
                db.close(clean=clean)
        finally:
            self._key.wipe()
            for i in range(len(self._pseudonym_key)):
                self._pseudonym_key[i] = 0
            self._pseudonym_key = bytearray()

    def __enter__(self) -> ClinicStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock(reason="close")

    # ================================================================================================ internals
    def _require_db(self) -> Database:
        if self._db is None:
            raise StoreError("locked")
        return self._db

    def _require(self, permission: str, *, allow_pending_change: bool = False) -> None:
        self._require_db()
        now = self.clock()
        if now - self._last_activity > self.auto_lock_seconds:
            self.lock(reason="idle")
            raise StoreError("locked")
        self._last_activity = now
        if self.principal.must_change_passphrase and not allow_pending_change:
            raise StoreError("passphrase_change_required")
        if self.principal.role not in PERMISSIONS[permission]:
            raise StoreError("not_allowed", role=self.principal.role, action=permission)

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Session]:
        db = self._require_db()
        try:
            with db.session() as s, s.begin():
                yield s
        except DatabaseError as exc:
            # sqlite reports a page that fails authentication or a broken b-tree as a bare DatabaseError
            # ("database disk image is malformed"); constraint and locking errors are subclasses and pass through.
            if type(exc.orig) is sqlcipher3.DatabaseError:
                raise StoreError("database_damaged", path=str(db.path), detail=str(exc.orig)) from exc
            raise

    def _audit(self, s: Session, action: str, subject: str | None = None, detail: dict[str, Any] | None = None,
               *, actor: str | None = None) -> None:
        """Append one entry to the audit log inside the caller's transaction (BEGIN IMMEDIATE: no race).

        `actor` defaults to the logged-in person; "system" marks what no person did (a crash check, a failed login).
        """
        who = actor or self.principal.user_id
        head = s.execute(select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
        seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
        at = utcnow()
        detail = detail or {}
        digest = entry_hash(prev, seq, format_utc(at), who, action, subject, dump_json(detail))
        s.add(AuditEntry(seq=seq, at=at, user_id=who, action=action, subject=subject, detail=detail,
                         prev_hash=prev, entry_hash=digest))
        s.flush()

    def _audit_head(self) -> tuple[int, str]:
        with self._tx() as s:
            head = s.execute(select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc())
                             .limit(1)).first()
        return (head[0], head[1]) if head else (0, GENESIS)

    def _anchor_head(self) -> None:
        seq, head = self._audit_head()
        self._anchor.write(seq, head)

    def _setting_value(self, key: str, default: Any) -> Any:
        with self._tx() as s:
            row = s.get(Setting, key)
        return default if row is None else row.value

    def _run_checks(self) -> CheckReport:
        return run_checks(self._require_db(), self._anchor)

    # ================================================================================================ users
    def users(self) -> list[User]:
        self._require("manage_users")
        with self._tx() as s:
            rows = list(s.scalars(select(User).order_by(User.login)))
            self._audit(s, "user.list", None, {"count": len(rows)})
        return rows

    def add_user(self, login: str, display_name: str, role: str, passphrase: str, *,
                 must_change_passphrase: bool = True, kdf: KdfParams | None = None) -> User:
        """A new account. Its first passphrase is set by the administrator, so by default the user must change it
        at the first login (the demo clinic and scripted installs may say otherwise)."""
        self._require("manage_users")
        login = _validate_login(login)
        display_name = _required_text(display_name, "display_name")
        role = _validate_role(role)
        check_passphrase_strength(passphrase)
        user_id = new_id()
        with self._tx() as s:
            if s.scalar(select(User.id).where(User.login == login)) is not None or self.keyring.user_wrap(login):
                raise StoreError("login_taken", login=login)
            user = User(id=user_id, login=login, display_name=display_name, role=role, active=True,
                        must_change_passphrase=must_change_passphrase, created_at=utcnow(),
                        created_by=self.principal.user_id)
            s.add(user)
            self._audit(s, "user.add", f"user:{user_id}", {"role": role, "login": login})
            self._put_wrap(user_id, login, passphrase, kdf)
        return user

    def _put_wrap(self, user_id: str, login: str, passphrase: str, kdf: KdfParams | None) -> None:
        # Written inside the caller's open transaction: if the keyring write fails the database change rolls back;
        # if the commit then fails, the keyring has a wrap for a user the database does not know, which no login
        # accepts (the user row is looked up after unwrapping).
        params = kdf or self._default_kdf()
        self.keyring.put(seal(self._key, normalise_passphrase(passphrase), clinic_id=self.clinic_id, kind="user",
                              user_id=user_id, login=login, kdf=params))
        self.keyring.save(self.folder.keyring)

    def _default_kdf(self) -> KdfParams:
        # New wraps use at least the parameters of the recovery wrap, so a clinic set up with stronger (or, in
        # tests, cheaper) settings keeps them.
        return self.keyring.recovery_wrap().kdf

    def _user(self, s: Session, user_id: str) -> User:
        user = s.get(User, user_id)
        if user is None:
            raise StoreError("unknown_user", user=user_id)
        return user

    def _active_admins(self, s: Session) -> int:
        return len(list(s.scalars(select(User.id).where(User.role == "admin", User.active.is_(True)))))

    def disable_user(self, user_id: str) -> None:
        """Disable an account: its wrap is removed from the keyring and the database refuses its login."""
        self._require("manage_users")
        if user_id == self.principal.user_id:
            raise StoreError("cannot_disable_self")
        with self._tx() as s:
            user = self._user(s, user_id)
            if user.role == "admin" and user.active and self._active_admins(s) <= 1:
                raise StoreError("last_admin")
            user.active = False
            user.disabled_at = utcnow()
            self._audit(s, "user.disable", f"user:{user_id}")
            self.keyring.remove_user(user_id)
            self.keyring.save(self.folder.keyring)

    def enable_user(self, user_id: str, temporary_passphrase: str) -> None:
        self._require("manage_users")
        check_passphrase_strength(temporary_passphrase)
        with self._tx() as s:
            user = self._user(s, user_id)
            user.active = True
            user.disabled_at = None
            user.must_change_passphrase = True
            self._audit(s, "user.enable", f"user:{user_id}")
            self._put_wrap(user.id, user.login, temporary_passphrase, None)

    def reset_passphrase(self, user_id: str, temporary_passphrase: str) -> None:
        """An administrator sets a temporary passphrase; the user must choose a new one at the next login."""
        self._require("manage_users")
        check_passphrase_strength(temporary_passphrase)
        with self._tx() as s:
            user = self._user(s, user_id)
            user.must_change_passphrase = True
            self._audit(s, "user.reset_passphrase", f"user:{user_id}")
            self._put_wrap(user.id, user.login, temporary_passphrase, None)

    def set_role(self, user_id: str, role: str) -> None:
        self._require("manage_users")
        role = _validate_role(role)
        with self._tx() as s:
            user = self._user(s, user_id)
            if user.role == "admin" and role != "admin" and user.active and self._active_admins(s) <= 1:
                raise StoreError("last_admin")
            old, user.role = user.role, role
            self._audit(s, "user.role", f"user:{user_id}", {"from": old, "to": role})

    def change_passphrase(self, current: str, new: str) -> None:
        """Re-seal the data key under a new passphrase. The database is not re-encrypted (it does not need to be)."""
        self._require("read_records", allow_pending_change=True)
        if self.principal.emergency:
            raise StoreError("not_allowed", role="recovery", action="change_passphrase")
        check_passphrase_strength(new)
        wrap = self.keyring.wrap_for_user_id(self.principal.user_id)
        if wrap is None or open_wrap(wrap, normalise_passphrase(current), self.clinic_id) is None:
            raise StoreError("wrong_credentials")
        with self._tx() as s:
            user = self._user(s, self.principal.user_id)
            user.must_change_passphrase = False
            self._audit(s, "user.change_passphrase", f"user:{user.id}")
            self._put_wrap(user.id, user.login, new, wrap.kdf)
        self.principal = Principal(self.principal.user_id, self.principal.login, self.principal.display_name,
                                   self.principal.role, emergency=False, must_change_passphrase=False)

    # ================================================================================================ patients
    def add_patient(self, *, given_names: str, family_names: str, sex: str, document_type: str = "CC",
                    document_number: str | None = None, birth_date: dt.date | None = None,
                    village: str | None = None, phone: str | None = None, notes: str | None = None) -> Patient:
        self._require("write_records")
        fields = self._patient_fields(given_names=given_names, family_names=family_names, sex=sex,
                                      document_type=document_type, document_number=document_number,
                                      birth_date=birth_date, village=village, phone=phone, notes=notes)
        now = utcnow()
        with self._tx() as s:
            self._refuse_duplicate_document(s, fields["document_type"], fields["document_norm"], None)
            patient = Patient(id=new_id(), created_at=now, updated_at=now, created_by=self.principal.user_id,
                              **fields)
            s.add(patient)
            s.flush()
            s.add_all(PatientNameToken(token=t, patient_id=patient.id)
                      for t in name_tokens(patient.given_names, patient.family_names))
            self._audit(s, "patient.create", f"patient:{patient.id}")
        return patient

    def update_patient(self, patient_id: str, **changes: Any) -> Patient:
        self._require("write_records")
        with self._tx() as s:
            patient = self._patient(s, patient_id)
            merged = {k: getattr(patient, k) for k in ("given_names", "family_names", "sex", "document_type",
                                                       "document_number", "birth_date", "village", "phone",
                                                       "notes")}
            unknown = set(changes) - set(merged)
            if unknown:
                raise StoreError("invalid_field", field=sorted(unknown)[0])
            merged.update(changes)
            fields = self._patient_fields(**merged)
            self._refuse_duplicate_document(s, fields["document_type"], fields["document_norm"], patient_id)
            changed = sorted(k for k, v in fields.items() if getattr(patient, k) != v)
            for k in changed:
                setattr(patient, k, fields[k])
            patient.updated_at = utcnow()
            if {"given_names", "family_names"} & set(changed):
                s.execute(PatientNameToken.__table__.delete().where(PatientNameToken.patient_id == patient_id))
                s.add_all(PatientNameToken(token=t, patient_id=patient_id)
                          for t in name_tokens(patient.given_names, patient.family_names))
            # Which fields changed, never their values: the audit log must not become a copy of the records.
            self._audit(s, "patient.update", f"patient:{patient_id}", {"fields": changed})
        return patient

    @staticmethod
    def _patient_fields(*, given_names: str, family_names: str, sex: str, document_type: str,
                        document_number: str | None, birth_date: dt.date | None, village: str | None,
                        phone: str | None, notes: str | None) -> dict[str, Any]:
        given = _required_text(given_names, "given_names")
        family = _required_text(family_names, "family_names")
        sex = (sex or "").strip().upper()
        if sex not in SEXES:
            raise StoreError("invalid_field", field="sex")
        document_type = (document_type or "").strip().upper()
        if document_type not in DOCUMENT_TYPES:
            raise StoreError("invalid_document_type", value=document_type, allowed=", ".join(DOCUMENT_TYPES))
        if birth_date is not None and (not isinstance(birth_date, dt.date) or birth_date > dt.date.today()):
            raise StoreError("invalid_field", field="birth_date")
        number = document_number.strip() if document_number and document_number.strip() else None
        return {
            "given_names": given, "family_names": family, "sort_name": sort_key(given, family), "sex": sex,
            "document_type": document_type, "document_number": number, "document_norm": normalise_document(number),
            "birth_date": birth_date, "village": (village or "").strip() or None,
            "phone": (phone or "").strip() or None, "notes": notes or None,
        }

    @staticmethod
    def _refuse_duplicate_document(s: Session, document_type: str, norm: str | None, patient_id: str | None) -> None:
        if norm is None:
            return
        other = s.scalar(select(Patient.id).where(Patient.document_type == document_type,
                                                  Patient.document_norm == norm))
        if other is not None and other != patient_id:
            raise StoreError("patient_exists", document_type=document_type)

    @staticmethod
    def _patient(s: Session, patient_id: str) -> Patient:
        patient = s.get(Patient, patient_id)
        if patient is None:
            raise StoreError("unknown_patient", patient=patient_id)
        return patient

    def get_patient(self, patient_id: str) -> Patient:
        """Open one patient's record (logged as a read of that record)."""
        self._require("read_records")
        with self._tx() as s:
            patient = self._patient(s, patient_id)
            self._audit(s, "patient.read", f"patient:{patient_id}")
        return patient

    def search_patients(self, query: str, limit: int = SEARCH_LIMIT) -> list[Patient]:
        """Patients whose document number starts with `query` (when it has a digit), or every word of whose name
        starts with one of the query's words ("mar gom" finds María Gómez), accent- and case-insensitive."""
        self._require("read_records")
        words = query.split()
        if len(words) > 1 and words[0].upper() in DOCUMENT_TYPES:  # "CC 1023..." as read off the card
            query = " ".join(words[1:])
        tokens = name_tokens(query)
        by_document = any(c.isdigit() for c in query)
        with self._tx() as s:
            if by_document:
                ids = self._ids_by_document(s, normalise_document(query), limit)
            else:
                ids = self._ids_by_name(s, tokens, limit)
            patients = list(s.scalars(select(Patient).where(Patient.id.in_(ids)))) if ids else []
            # Neither the query (a name or a document number) nor the list shown is logged: a search box fires on
            # every keystroke, and opening a record (`get_patient`) is the access that names the patient.
            self._audit(s, "patient.search", None, {"by": "document" if by_document else "name",
                                                    "results": len(patients)})
        patients.sort(key=lambda p: (p.sort_name, p.id))
        return patients

    @staticmethod
    def _ids_by_document(s: Session, norm: str | None, limit: int) -> list[str]:
        if not norm:
            return []
        rows = s.execute(text("SELECT id FROM patients WHERE document_norm >= :lo AND document_norm < :hi "
                              "ORDER BY document_norm LIMIT :n"),
                         {"lo": norm, "hi": prefix_upper_bound(norm), "n": limit})
        return [r[0] for r in rows]

    @staticmethod
    def _ids_by_name(s: Session, tokens: Sequence[str], limit: int) -> list[str]:
        if not tokens:
            return []
        # Drive the scan with the longest word (usually the most selective); the other words must each match some
        # token of the same patient, checked through the (patient_id, token) index.
        ordered = sorted(tokens, key=len, reverse=True)
        params: dict[str, Any] = {"lo0": ordered[0], "hi0": prefix_upper_bound(ordered[0]), "n": limit * 3}
        sql = "SELECT t.patient_id FROM patient_name_tokens t WHERE t.token >= :lo0 AND t.token < :hi0"
        for i, token in enumerate(ordered[1:], start=1):
            params[f"lo{i}"], params[f"hi{i}"] = token, prefix_upper_bound(token)
            sql += (f" AND EXISTS (SELECT 1 FROM patient_name_tokens u{i} WHERE u{i}.patient_id = t.patient_id"
                    f" AND u{i}.token >= :lo{i} AND u{i}.token < :hi{i})")
        sql += " ORDER BY t.token, t.patient_id LIMIT :n"
        out: list[str] = []
        for (pid,) in s.execute(text(sql), params):
            if pid not in out:
                out.append(pid)
                if len(out) == limit:
                    break
        return out

    # ================================================================================================ encounters
    def start_encounter(self, patient_id: str, *, request: dict[str, Any] | None = None,
                        response: dict[str, Any] | None = None, notes: str | None = None) -> Encounter:
        """A draft encounter (a nurse can open one; the request and response may come later)."""
        self._require("write_records")
        with self._tx() as s:
            self._patient(s, patient_id)
            encounter = Encounter(id=new_id(), patient_id=patient_id, clinician_id=self.principal.user_id,
                                  started_at=utcnow(), status="draft", notes=notes)
            self._apply_diagnosis(encounter, request, response)
            s.add(encounter)
            self._audit(s, "encounter.start", f"encounter:{encounter.id}", {"patient": patient_id})
        return encounter

    @staticmethod
    def _apply_diagnosis(encounter: Encounter, request: dict[str, Any] | None,
                         response: dict[str, Any] | None) -> None:
        if request is not None:
            encounter.request = request
        if response is not None:
            encounter.response = response
            model = response.get("model") or {}
            encounter.model_version = model.get("version")
            encounter.model_sha256 = model.get("sha256")
            encounter.severity = response.get("severity")
            encounter.requires_attention = bool(response.get("requires_immediate_attention"))

    def _encounter(self, s: Session, encounter_id: str) -> Encounter:
        encounter = s.get(Encounter, encounter_id)
        if encounter is None:
            raise StoreError("unknown_encounter", encounter=encounter_id)
        return encounter

    def update_encounter(self, encounter_id: str, *, request: dict[str, Any] | None = None,
                         response: dict[str, Any] | None = None, notes: str | None = None) -> Encounter:
        self._require("write_records")
        with self._tx() as s:
            encounter = self._encounter(s, encounter_id)
            if encounter.status == "closed":
                raise StoreError("encounter_closed", encounter=encounter_id)
            self._apply_diagnosis(encounter, request, response)
            if notes is not None:
                encounter.notes = notes
            changed = [k for k, v in (("request", request), ("response", response), ("notes", notes)) if v is not None]
            self._audit(s, "encounter.update", f"encounter:{encounter_id}", {"fields": changed})
        return encounter

    def close_encounter(self, encounter_id: str, final_code: str, *, notes: str | None = None) -> Encounter:
        """The doctor confirms the final diagnosis. The encounter, its feedback outbox row and the audit entry are
        written in one transaction: after a crash either all three exist or none does."""
        self._require("close_encounter")
        system = diagnosis_code_system(final_code)
        with self._tx() as s:
            encounter = self._encounter(s, encounter_id)
            if encounter.status == "closed":
                raise StoreError("encounter_closed", encounter=encounter_id)
            self._close_in(s, encounter, final_code, system, notes)
        return encounter

    def record_encounter(self, patient_id: str, *, request: dict[str, Any], response: dict[str, Any],
                         final_code: str, notes: str | None = None) -> Encounter:
        """Start and close an encounter in one transaction (a doctor working alone, imports, the demo clinic)."""
        self._require("close_encounter")
        system = diagnosis_code_system(final_code)
        with self._tx() as s:
            self._patient(s, patient_id)
            encounter = Encounter(id=new_id(), patient_id=patient_id, clinician_id=self.principal.user_id,
                                  started_at=utcnow(), status="draft")
            self._apply_diagnosis(encounter, request, response)
            s.add(encounter)
            self._audit(s, "encounter.start", f"encounter:{encounter.id}", {"patient": patient_id})
            self._close_in(s, encounter, final_code, system, notes)
        return encounter

    def _close_in(self, s: Session, encounter: Encounter, code: str, system: str, notes: str | None) -> None:
        if encounter.request is None or encounter.response is None:
            raise StoreError("encounter_incomplete")
        now = utcnow()
        encounter.status = "closed"
        encounter.closed_at = now
        encounter.final_code = code
        encounter.final_code_system = system
        if notes is not None:
            encounter.notes = notes
        s.flush()
        payload = feedback_payload(clinic_id=self.clinic_id, pseudonym_key=bytes(self._pseudonym_key),
                                   patient_id=encounter.patient_id, encounter_id=encounter.id, closed_at=now,
                                   request=encounter.request, response=encounter.response, final_code=code,
                                   final_code_system=system)
        s.add(FeedbackOutbox(encounter_id=encounter.id, created_at=now, payload=payload, attempts=0))
        self._audit(s, "encounter.close", f"encounter:{encounter.id}", {"code": code, "system": system})

    def get_encounter(self, encounter_id: str) -> Encounter:
        self._require("read_records")
        with self._tx() as s:
            encounter = self._encounter(s, encounter_id)
            self._audit(s, "encounter.read", f"encounter:{encounter_id}", {"patient": encounter.patient_id})
        return encounter

    def patient_encounters(self, patient_id: str) -> list[Encounter]:
        """A patient's encounters, newest first (logged as a read of the patient's record)."""
        self._require("read_records")
        with self._tx() as s:
            self._patient(s, patient_id)
            rows = list(s.scalars(select(Encounter).where(Encounter.patient_id == patient_id)
                                  .order_by(Encounter.started_at.desc())))
            self._audit(s, "patient.read_encounters", f"patient:{patient_id}", {"count": len(rows)})
        return rows

    # ================================================================================================ outbox / sync
    def pending_feedback(self, limit: int = 500) -> list[FeedbackOutbox]:
        """Rows waiting to be sent, oldest first: not acknowledged and not refused by the central service."""
        self._require("sync")
        with self._tx() as s:
            return list(s.scalars(select(FeedbackOutbox).where(FeedbackOutbox.sent_at.is_(None), _NOT_REFUSED)
                                  .order_by(FeedbackOutbox.id).limit(limit)))

    def feedback_counts(self) -> dict[str, int]:
        """{"pending", "refused", "sent"}: what the status bar and `vereda sync` show (counts only, no rows)."""
        self._require("sync")
        with self._tx() as s:
            sent = s.scalar(select(func.count()).select_from(FeedbackOutbox)
                            .where(FeedbackOutbox.sent_at.is_not(None))) or 0
            pending = s.scalar(select(func.count()).select_from(FeedbackOutbox)
                               .where(FeedbackOutbox.sent_at.is_(None), _NOT_REFUSED)) or 0
            refused = s.scalar(select(func.count()).select_from(FeedbackOutbox)
                               .where(FeedbackOutbox.sent_at.is_(None), ~_NOT_REFUSED)) or 0
        return {"pending": pending, "refused": refused, "sent": sent}

    def mark_feedback_sent(self, outbox_ids: Sequence[int]) -> None:
        self._require("sync")
        now = utcnow()
        with self._tx() as s:
            # One UPDATE for the batch (a sync marks 500 rows at a time; row-by-row costs more than the network).
            s.execute(update(FeedbackOutbox).where(FeedbackOutbox.id.in_(list(outbox_ids)))
                      .values(sent_at=now, attempts=FeedbackOutbox.attempts + 1, last_error=None)
                      .execution_options(synchronize_session=False))
            self._audit(s, "sync.feedback_sent", None, {"count": len(outbox_ids)})

    def mark_feedback_failed(self, outbox_ids: Sequence[int], error: str) -> None:
        self._require("sync")
        with self._tx() as s:
            for row in s.scalars(select(FeedbackOutbox).where(FeedbackOutbox.id.in_(list(outbox_ids)))):
                row.attempts += 1
                row.last_error = error[:500]
            self._audit(s, "sync.feedback_failed", None, {"count": len(outbox_ids), "error": error[:200]})

    def mark_feedback_refused(self, outbox_ids: Sequence[int], reason: str) -> None:
        """The central service refused these rows for good (conflict, invalid, rejected): they leave the pending
        queue, are never deleted, and keep the reason (no clinical values: a status, a code, a field name)."""
        self._require("sync")
        with self._tx() as s:
            s.execute(update(FeedbackOutbox).where(FeedbackOutbox.id.in_(list(outbox_ids)))
                      .values(attempts=FeedbackOutbox.attempts + 1, last_error=(REFUSED_PREFIX + reason)[:500])
                      .execution_options(synchronize_session=False))
            self._audit(s, "sync.feedback_refused", None, {"count": len(outbox_ids), "reason": reason[:200]})

    def record_sync(self, event: str, detail: dict[str, Any] | None = None) -> None:
        """Log a sync event (connection found, model update offered, USB import ...). No patient data in detail."""
        self._require("sync")
        with self._tx() as s:
            self._audit(s, f"sync.{event}", None, detail or {})

    # ================================================================================================ bundles/settings
    def record_installed_bundle(self, *, version: str, sha256: str, source: str, manifest: dict[str, Any],
                                activate: bool = True) -> InstalledModelBundle:
        # "sync", not "maintain": updates arrive during a doctor's sync. What protects the clinic is the signature,
        # version and expiry checks app/sync makes before this call, not the role of whoever is logged in.
        self._require("sync")
        with self._tx() as s:
            row = s.scalar(select(InstalledModelBundle).where(InstalledModelBundle.sha256 == sha256))
            if row is None:
                row = InstalledModelBundle(version=version, sha256=sha256, source=source, installed_at=utcnow(),
                                           installed_by=self.principal.user_id, manifest=manifest, active=False)
                s.add(row)
            if activate:
                for other in s.scalars(select(InstalledModelBundle).where(InstalledModelBundle.active.is_(True))):
                    other.active = False
                row.active = True
            s.flush()
            self._audit(s, "bundle.install", f"bundle:{sha256[:16]}", {"version": version, "source": source,
                                                                      "active": activate})
        return row

    def active_bundle(self) -> InstalledModelBundle | None:
        self._require("read_records")
        with self._tx() as s:
            return s.scalar(select(InstalledModelBundle).where(InstalledModelBundle.active.is_(True)))

    def setting(self, key: str, default: Any = None) -> Any:
        self._require("read_records")
        return self._setting_value(key, default)

    def set_setting(self, key: str, value: Any) -> None:
        """Clinic settings need an administrator; the sync state (SYNC_SETTINGS) is written by whoever syncs. The
        values of SECRET_SETTINGS (the device token) never reach the audit log."""
        self._require("sync" if key in SYNC_SETTINGS else "maintain")
        with self._tx() as s:
            row = s.get(Setting, key)
            if row is None:
                s.add(Setting(key=key, value=value, updated_at=utcnow(), updated_by=self.principal.user_id))
            else:
                row.value, row.updated_at, row.updated_by = value, utcnow(), self.principal.user_id
            logged = {"set": value is not None} if key in SECRET_SETTINGS else {"value": value}
            self._audit(s, "setting.change", f"setting:{key}", logged)
        if key == "auto_lock_minutes":
            self.auto_lock_seconds = float(value) * 60.0

    # ================================================================================================ audit, checks
    def audit_entries(self, *, subject: str | None = None, limit: int = 200) -> list[AuditEntry]:
        self._require("maintain")
        with self._tx() as s:
            query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
            if subject is not None:
                query = query.where(AuditEntry.subject == subject)
            return list(s.scalars(query))

    def record_export(self, what: str, detail: dict[str, Any] | None = None) -> None:
        """Log an export of records (a report, a USB file) made elsewhere in the app."""
        self._require("read_records")
        with self._tx() as s:
            self._audit(s, "export", what, detail or {})

    def check(self) -> CheckReport:
        """Run every check; anchor the audit log again when its chain and anchor are sound."""
        self._require("maintain")
        report = self._run_checks()
        try:
            with self._tx() as s:
                self._audit(s, "check", None, {"ok": report.ok, "failed": [r.name for r in report.failed]})
        except (StoreError, DBAPIError, sqlcipher3.DatabaseError):
            # A damaged database may refuse the audit entry; the report is still the answer IT staff need.
            log.exception("could not log the check")
            return report
        audit_ok = all(not r.problems for r in report.results if r.name.startswith("check.audit"))
        if audit_ok:
            self._anchor_head()
        return report

    def audit_chain_head(self) -> tuple[int, str]:
        """(seq, hash) of the newest audit entry: what backups compare to tell newer from older."""
        self._require_db()
        return self._audit_head()

    def backup(self, target: Path) -> Path:
        """Write an encrypted backup file (see app.store.backup)."""
        from app.store.backup import write_backup

        self._require("maintain")
        with self._tx() as s:
            self._audit(s, "backup.export", None, {"file": Path(target).name})
        return write_backup(self._require_db(), self.keyring, self._key, Path(target))

