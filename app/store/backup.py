"""Encrypted backup files (for a USB stick) and restoring them, on this laptop or a new one, with the recovery key.

A backup file is `VEREDA-BACKUP` + a small JSON header + a consistent copy of the database made by SQLCipher's
`sqlcipher_export`, encrypted with the same data key. The header holds the keyring (the data key sealed per user and
for the recovery key: useless without a passphrase or the recovery key), the clinic id, the schema revision, the
audit head and a SHA-256 of the database bytes to catch a truncated copy before anything is touched. Nothing in the
header is about a patient.

Restoring never overwrites a newer database silently. The audit log is an append-only hash chain, so it says how two
copies of the same clinic relate: if the database already here contains the backup's newest audit entry, it is the
newer one (refused without --force); if the backup contains the newest entry of the one here, the backup is newer
(restored); otherwise they diverged (refused without --force). A database of another clinic, or one the backup's key
cannot open, is refused without --force. Whatever is replaced is moved into a `replaced-<time>/` folder, never
deleted. Restoring is emergency access: it is logged in the restored database's audit log.

This module handles the files only; `ClinicStore.backup()` and `ClinicStore.restore()` (app/store/store.py) are the
public entry points, and open the restored database to log the restore. Nothing here imports the store.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlcipher3
from sqlalchemy.exc import DBAPIError

from app.core.files import PRIVATE_FILE, fsync_dir, write_json_atomic
from app.store.audit import GENESIS
from app.store.context import DataFolder
from app.store.database import Database, driver
from app.store.files import DatabaseLock, LockHeld, make_private_dir
from app.store.keys import Keyring, SecretKey, open_wrap, parse_recovery_key
from app.store.login_attempts import RECOVERY, LoginAttempts
from app.store.messages import StoreError

MAGIC = b"VEREDA-BACKUP\n"
BACKUP_FORMAT = 1
MAX_HEADER = 1 << 20
_CHUNK = 1 << 20


@dataclass(frozen=True)
class BackupHeader:
    clinic_id: str
    created_at: str
    schema: str | None
    audit_seq: int
    audit_head: str
    db_size: int
    db_sha256: str
    keyring: Keyring

    def to_json(self) -> dict[str, Any]:
        return {
            "format": BACKUP_FORMAT, "clinic_id": self.clinic_id, "created_at": self.created_at,
            "schema": self.schema, "audit_seq": self.audit_seq, "audit_head": self.audit_head,
            "db_size": self.db_size, "db_sha256": self.db_sha256, "keyring": self.keyring.to_json(),
        }


def _head(conn: sqlcipher3.Connection, schema: str = "main") -> tuple[int, str]:
    row = conn.execute(f"SELECT seq, entry_hash FROM {schema}.audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


def write_backup(db: Database, keyring: Keyring, key: SecretKey, target: Path) -> Path:
    """Write the backup of the open database `db` to `target` atomically; returns `target`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The export goes to the data folder first (local disk, private permissions); only the finished container is
    # written to the stick.
    export = db.path.with_name(f".backup-{secrets.token_hex(6)}.db")
    os.close(os.open(export, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))  # SQLite would use the umask
    raw = db.engine.raw_connection()
    try:
        conn = driver(raw)
        conn.execute(f"ATTACH DATABASE ? AS backup KEY \"x'{key.raw().hex()}'\"", (str(export),))
        try:
            conn.execute("BEGIN")
            seq, head = _head(conn)
            schema_row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            conn.execute("SELECT sqlcipher_export('backup')")
            conn.execute("COMMIT")
        finally:
            conn.execute("DETACH DATABASE backup")
    finally:
        raw.close()
    try:
        digest = hashlib.sha256()
        with export.open("rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                digest.update(chunk)
        header = BackupHeader(
            clinic_id=keyring.clinic_id,
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            schema=schema_row[0] if schema_row else None,
            audit_seq=seq, audit_head=head, db_size=export.stat().st_size, db_sha256=digest.hexdigest(),
            keyring=keyring,
        )
        header_bytes = json.dumps(header.to_json(), sort_keys=True).encode("utf-8")
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            # Private like every file holding the clinic's data (open() would follow the umask, often 0644): the
            # database inside is encrypted, but the header names the clinic and carries the wrapped keys.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
            with os.fdopen(fd, "wb") as out, export.open("rb") as src:
                out.write(MAGIC + struct.pack(">I", len(header_bytes)) + header_bytes)
                shutil.copyfileobj(src, out, _CHUNK)
                out.flush()
                os.fsync(out.fileno())
            if os.name == "posix":
                with contextlib.suppress(PermissionError):  # a USB stick's FAT has no owner to restrict to
                    os.chmod(tmp, PRIVATE_FILE)
            os.replace(tmp, target)
            fsync_dir(target.parent)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
    finally:
        with contextlib.suppress(OSError):
            export.unlink()
    return target


def read_header(path: Path) -> tuple[BackupHeader, int]:
    """The header of a backup file and the offset where its database starts; verifies the database's SHA-256."""
    def bad(detail: str) -> StoreError:
        return StoreError("backup_unreadable", path=str(path), detail=detail)

    try:
        with Path(path).open("rb") as fh:
            if fh.read(len(MAGIC)) != MAGIC:
                raise bad("not a Vereda backup")
            (size,) = struct.unpack(">I", fh.read(4))
            if size > MAX_HEADER:
                raise bad("header too large")
            data = json.loads(fh.read(size).decode("utf-8"))
            if data.get("format") != BACKUP_FORMAT:
                raise bad(f"unknown format {data.get('format')!r}")
            header = BackupHeader(
                clinic_id=str(data["clinic_id"]), created_at=str(data["created_at"]), schema=data.get("schema"),
                audit_seq=int(data["audit_seq"]), audit_head=str(data["audit_head"]), db_size=int(data["db_size"]),
                db_sha256=str(data["db_sha256"]), keyring=Keyring.from_json(data["keyring"]),
            )
            offset = fh.tell()
            digest = hashlib.sha256()
            remaining = header.db_size
            while remaining:
                chunk = fh.read(min(_CHUNK, remaining))
                if not chunk:
                    raise bad("the file is truncated")
                digest.update(chunk)
                remaining -= len(chunk)
            if fh.read(1):
                raise bad("unexpected bytes after the database")
    except StoreError:
        raise
    except (OSError, ValueError, KeyError, TypeError, struct.error) as exc:
        raise bad(str(exc) or type(exc).__name__) from exc
    if digest.hexdigest() != header.db_sha256:
        raise bad("the database inside does not match its checksum")
    return header, offset


@dataclass(frozen=True)
class RestoreResult:
    data_dir: Path
    kept: Path | None  # where the replaced database was moved, if there was one
    relation: str  # "empty", "older", "same", "newer", "diverged", "foreign", "unreadable"


def _hash_at(db: Database, seq: int) -> str | None:
    if seq == 0:
        return GENESIS
    rows = db.pragma(f"SELECT entry_hash FROM audit_log WHERE seq = {int(seq)}")
    return str(rows[0][0]) if rows else None


def _relation(here: Path, key: SecretKey, clinic_id: str, backup_db: Database,
              folder_lock: DatabaseLock) -> tuple[str, dict[str, Any]]:
    """How the database already in `here` relates to the backup: empty, older, same, newer, diverged, foreign,
    unreadable (this clinic's, but damaged)."""
    folder = DataFolder(here)
    same_clinic = False
    if folder.keyring.exists():
        try:
            if Keyring.load(folder.keyring).clinic_id != clinic_id:
                return "foreign", {}
            same_clinic = True
        except StoreError:
            return "foreign", {}
    if not folder.db.exists():
        return "empty", {}
    current = Database(folder.db, key.copy(), folder_lock=folder_lock)
    try:
        try:
            current.verify_key()
            cur_seq, cur_head = current.audit_head()
        except (StoreError, DBAPIError, sqlcipher3.DatabaseError) as exc:
            if isinstance(exc, StoreError) and exc.code == "in_use":
                raise
            return ("unreadable" if same_clinic else "foreign"), {}
        bak_seq, bak_head = backup_db.audit_head()
        if (cur_seq, cur_head) == (bak_seq, bak_head):
            return "same", {}
        if cur_seq > bak_seq and _hash_at(current, bak_seq) == bak_head:
            return "newer", {"current": cur_seq, "backup": bak_seq}
        if cur_seq <= bak_seq and _hash_at(backup_db, cur_seq) == cur_head:
            return "older", {}
        first = 1
        while first <= min(cur_seq, bak_seq) and _hash_at(current, first) == _hash_at(backup_db, first):
            first += 1
        return "diverged", {"seq": first}
    finally:
        current.close()


@dataclass(frozen=True)
class RestoredFiles:
    """A restore whose files are in place: what the store needs to open the restored database and log it."""

    folder: DataFolder
    header: BackupHeader
    key: SecretKey
    attempts: LoginAttempts
    result: RestoreResult


def restore_files(backup: Path, data_dir: Path, recovery_key: str, *, force: bool = False,
                  clock: Callable[[], float] = time.time) -> RestoredFiles:
    """Put `backup` in place in `data_dir` with the recovery key (see the module docstring for the rules); the
    caller opens the restored database with the returned key (`ClinicStore.restore`)."""
    header, offset = read_header(Path(backup))
    data_dir = Path(data_dir)
    make_private_dir(data_dir)
    attempts = LoginAttempts(DataFolder(data_dir).attempts, clock)
    attempts.check_allowed(RECOVERY)
    key = open_wrap(header.keyring.recovery_wrap(), parse_recovery_key(recovery_key), header.clinic_id)
    if key is None:
        attempts.record_failure(RECOVERY, "wrong_recovery_key")
        raise StoreError("wrong_recovery_key")

    # The folder stays locked from the comparison to the swap, so a Vereda running on this folder cannot write
    # something newer in between (and a running one makes the restore stop here with "in use").
    folder_lock = DatabaseLock(DataFolder(data_dir).db.with_suffix(".lock"))
    try:
        folder_lock.acquire()
    except LockHeld as exc:
        raise StoreError("in_use", path=str(data_dir)) from exc
    staging = data_dir / f".restore-{secrets.token_hex(6)}"
    swapped = False
    try:
        make_private_dir(staging)
        staged_db = staging / "vereda.db"
        with Path(backup).open("rb") as src, staged_db.open("wb") as out:
            src.seek(offset)
            shutil.copyfileobj(src, out, _CHUNK)
            out.flush()
            os.fsync(out.fileno())
        staged = Database(staged_db, key.copy())
        try:
            try:
                staged.verify_key()
            except StoreError as exc:
                raise StoreError("backup_unreadable", path=str(backup), detail=exc.code) from exc
            damaged = staged.integrity().results.get("check.cipher_integrity")
            if damaged:
                raise StoreError("backup_unreadable", path=str(backup), detail="; ".join(damaged[:3]))
            relation, params = _relation(data_dir, key, header.clinic_id, staged, folder_lock)
        finally:
            staged.close()
        refusals = {"newer": "backup_target_newer", "diverged": "backup_target_diverged",
                    "foreign": "backup_target_foreign", "unreadable": "backup_target_unreadable"}
        if relation in refusals and not force:
            message = refusals[relation]
            raise StoreError(message, path=str(data_dir), **params)

        folder = DataFolder(data_dir)
        kept: Path | None = None
        to_keep = [p for p in (*folder.database_files(), folder.keyring, folder.anchor) if p.exists()]
        if to_keep:
            kept = data_dir / f"replaced-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}"
            make_private_dir(kept)
            for path in to_keep:
                os.replace(path, kept / path.name)
        write_json_atomic(staging / "keys.json", header.keyring.to_json())
        os.replace(staged_db, folder.db)
        os.replace(staging / "keys.json", folder.keyring)
        swapped = True
    except BaseException:
        key.wipe()
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        # After the swap the marker is about the restored file, which has not crashed. Before it (a refusal, an
        # error) an "open" left by an earlier crash must stay, so the next unlock still checks the old file; and
        # a restore killed halfway leaves "open" too, so whatever is there then gets checked.
        folder_lock.release(clean=swapped or not folder_lock.unclean_shutdown)

    return RestoredFiles(folder, header, key, attempts, RestoreResult(data_dir, kept, relation))
