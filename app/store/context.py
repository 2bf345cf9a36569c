"""What every part of an unlocked store shares: the open database, the keys, who is logged in, and the three things
each part needs for every call: a permission check, a transaction, and an audit entry written inside it.

The parts (`store.users`, `store.patients`, ...) hold a `StoreContext` and use only its public methods, never each
other's internals; `ClinicStore` (app/store/store.py) builds the context when someone unlocks and hangs the parts off
it, the way Anki's `Collection` does with `col.decks`. Backup and restore use it too, through `ClinicStore`'s public
methods.

Threading: not thread-safe, like the store (one database worker thread in the app).
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlcipher3
from sqlalchemy import select
from sqlalchemy.exc import DatabaseError, DBAPIError
from sqlalchemy.orm import Session

from app.store.audit import GENESIS, AuditAnchor, entry_hash
from app.store.check import CheckReport, run_checks
from app.store.database import Database, disk_errors
from app.store.files import ANCHOR_FILE, ATTEMPTS_FILE, DB_FILE, KEYRING_FILE
from app.store.keys import Keyring, SecretKey
from app.store.messages import StoreError
from app.store.models import ROLES, AuditEntry, dump_json, format_utc, utcnow

log = logging.getLogger(__name__)

DEFAULT_AUTO_LOCK_MINUTES = 10
EMERGENCY_USER = "recovery"
SYSTEM = "system"
_LOGIN = re.compile(r"^[a-z0-9._-]{2,32}$")

# Who may do what. Emergency access (the recovery key) acts as an administrator; it is logged as such.
PERMISSIONS: dict[str, frozenset[str]] = {
    "read_records": frozenset({"doctor", "nurse", "admin"}),
    "write_records": frozenset({"doctor", "nurse", "admin"}),
    "close_encounter": frozenset({"doctor"}),
    "manage_users": frozenset({"admin"}),
    "maintain": frozenset({"admin"}),  # backup, check, clinic settings, the audit log
    "sync": frozenset({"doctor", "nurse", "admin"}),
    "own_preferences": frozenset({"doctor", "nurse", "admin"}),  # one's own language and auto-lock
}


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


def validate_login(login: str) -> str:
    login = login.strip().lower()
    if not _LOGIN.match(login):
        raise StoreError("invalid_login", login=login)
    return login


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise StoreError("invalid_role", role=role)
    return role


def required_text(value: str | None, field: str) -> str:
    if value is None or not str(value).strip():
        raise StoreError("missing_field", field=field)
    return str(value).strip()


class StoreContext:
    """The open database and keys of one unlocked store, bound to one person.

    `key` and `pseudonym_key` are overwritten by `close`; `principal` changes only when the person changes their
    passphrase (the pending-change flag drops).
    """

    def __init__(self, folder: DataFolder, db: Database, key: SecretKey, keyring: Keyring, principal: Principal,
                 clock: Callable[[], float]) -> None:
        self.folder = folder
        self._db: Database | None = db
        self.key = key
        self.keyring = keyring
        self.principal = principal
        self.clock = clock
        self.clinic_id = keyring.clinic_id
        self.anchor = AuditAnchor(folder.anchor, key.derive("audit-anchor"))
        anchored = self.anchor.read()
        self._anchored_seq = anchored[0] if anchored else 0
        self._appended: tuple[int, str] | None = None  # the audit head this transaction wrote, until it commits
        self.pseudonym_key = bytearray()
        self.auto_lock_seconds = DEFAULT_AUTO_LOCK_MINUTES * 60.0
        self._last_activity = clock()

    @property
    def locked(self) -> bool:
        return self._db is None

    @property
    def database(self) -> Database:
        """The open database; raises `locked` after a lock."""
        if self._db is None:
            raise StoreError("locked")
        return self._db

    def require(self, permission: str, *, allow_pending_change: bool = False) -> None:
        """Refuse unless the person may do `permission`; lock (and refuse) after the idle time."""
        _ = self.database
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
    def transaction(self) -> Iterator[Session]:
        """One database transaction; a page that fails authentication becomes `database_damaged`, a full disk
        `disk_full`. A transaction that appended to the audit log moves the anchor once it has committed."""
        db = self.database
        self._appended = None
        try:
            with disk_errors(self.folder.root), db.session() as s, s.begin():
                yield s
        except DatabaseError as exc:
            # sqlite reports a page that fails authentication or a broken b-tree as a bare DatabaseError
            # ("database disk image is malformed"); constraint and locking errors are subclasses and pass through.
            self._appended = None
            if type(exc.orig) is sqlcipher3.DatabaseError:
                raise StoreError("database_damaged", path=str(db.path), detail=str(exc.orig)) from exc
            raise
        except BaseException:
            self._appended = None
            raise
        appended, self._appended = self._appended, None
        if appended is not None:
            self._move_anchor(*appended)

    def _move_anchor(self, seq: int, head: str) -> None:
        # The anchor lives outside the database, so a database that lost committed transactions (its -wal file
        # deleted after a crash, a copy put back by hand) is behind it and `check` says work was lost. Written after
        # the commit: a crash in between leaves the anchor one transaction behind, never ahead of the database.
        # It only moves forward: a database found behind its anchor keeps that evidence until a restore replaces it.
        if seq <= self._anchored_seq:
            return
        try:
            self.anchor.write(seq, head)
        except OSError:
            # The work is committed and acknowledged; a full disk here only leaves the anchor behind (as a crash
            # would). The next write meets the full disk itself and says so.
            log.warning("could not move the audit anchor to %d", seq, exc_info=True)
            return
        self._anchored_seq = seq

    def audit(self, s: Session, action: str, subject: str | None = None, detail: dict[str, Any] | None = None,
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
        self._appended = (seq, digest)

    def audit_head(self) -> tuple[int, str]:
        """(seq, hash) of the newest audit entry."""
        with self.transaction() as s:
            head = s.execute(select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc())
                             .limit(1)).first()
        return (head[0], head[1]) if head else (0, GENESIS)

    def anchor_head(self) -> None:
        """Anchor the current head (setup, a clean lock, a check that found the log sound)."""
        seq, head = self.audit_head()
        self.anchor.write(seq, head)
        self._anchored_seq = seq

    def run_checks(self) -> CheckReport:
        return run_checks(self.database, self.anchor)

    def lock(self, reason: str = "user") -> None:
        """Log the lock, anchor the audit log, close the database and overwrite the keys we hold."""
        if self._db is None:
            return
        clean = True
        try:
            with self.transaction() as s:  # its commit moves the anchor, as every audited commit does
                self.audit(s, "lock", f"user:{self.principal.user_id}", {"reason": reason})
        except (StoreError, DBAPIError, sqlcipher3.DatabaseError):
            # Locking must always drop the keys. A database too damaged to log the lock is left marked "open",
            # so the next unlock runs the integrity checks again.
            log.exception("could not log the lock; closing anyway")
            clean = False
        finally:
            self.close(clean=clean)

    def close(self, clean: bool) -> None:
        """Close the database without logging (setup and unlock failures) and overwrite the keys."""
        db, self._db = self._db, None
        try:
            if db is not None:
                db.close(clean=clean)
        finally:
            self.key.wipe()
            for i in range(len(self.pseudonym_key)):
                self.pseudonym_key[i] = 0
            self.pseudonym_key = bytearray()
