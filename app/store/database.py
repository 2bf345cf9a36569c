"""Opening the SQLCipher database file: raw key, durability pragmas, schema migrations and integrity checks.

Every connection gets the raw 256-bit data key (`PRAGMA key = "x'…'"`, so SQLCipher skips its own passphrase KDF —
the expensive KDF already ran once, on the user's passphrase), then WAL with `synchronous=FULL` (a commit that
returned is on disk, which the outbox and sync state promise to the outside), temp files in memory (sorts and
temporary indexes never reach the disk unencrypted), foreign keys on. Every transaction starts with
`BEGIN IMMEDIATE`, so two writers queue on SQLite's lock instead of failing halfway with "database is locked", and
the audit log's head can be read and extended without a race.

The schema is Alembic's: a new database is built by running the revisions, an older one is upgraded on open (after
an encrypted copy of the file is kept beside it), a newer one is refused. Alembic is imported only when there is
something to migrate, to keep unlocking fast.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlcipher3
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from app.core.files import PRIVATE_FILE
from app.store.files import DatabaseLock, LockHeld, fsync_file
from app.store.keys import SecretKey
from app.store.messages import StoreError

SCHEMA_HEAD = "0001"
KNOWN_REVISIONS = ("0001",)  # in order; a test checks this matches the Alembic scripts
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
CHECK_CACHE_KIB = 256 * 1024

CACHE_PRAGMA = "PRAGMA cache_size = -32000"  # 32 MB per connection: the working set of a clinic day
PRAGMAS = (
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 10000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA temp_store = MEMORY",
    CACHE_PRAGMA,
)

# SQLCipher prints HMAC failures to stderr by default; our checks report them in the clinic's language instead.
with contextlib.suppress(sqlcipher3.DatabaseError):
    sqlcipher3.connect(":memory:").execute("PRAGMA cipher_log_level = NONE")


def _connect(path: Path, key: SecretKey) -> sqlcipher3.Connection:
    conn = sqlcipher3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10.0)
    try:
        conn.execute(key.hex_pragma())
        (version,) = conn.execute("PRAGMA cipher_version").fetchone() or (None,)
        if not version:
            # A sqlite build without the codec would silently write plain text; refuse instead.
            raise RuntimeError("sqlcipher3 is not linked with SQLCipher; refusing to write an unencrypted database")
        for pragma in PRAGMAS:
            conn.execute(pragma)
    except BaseException:
        conn.close()
        raise
    return conn


def _is_not_a_database(exc: BaseException) -> bool:
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    return isinstance(orig, sqlcipher3.DatabaseError) and "not a database" in str(orig)


@dataclass
class IntegrityReport:
    """Results of the SQLite-level checks: name of the check -> list of problem texts (empty = passed)."""

    results: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(self.results.values())


class Database:
    """One open, keyed database file. Not thread-safe: the app uses it from its single database worker."""

    def __init__(self, path: Path, key: SecretKey, *, folder_lock: DatabaseLock | None = None) -> None:
        """`folder_lock`: a lock on this folder the caller already holds (restore holds it across the whole swap);
        without one, the database takes its own."""
        self.path = path
        self.lock = folder_lock or DatabaseLock(path.with_suffix(".lock"))
        self._owns_lock = folder_lock is None
        if self._owns_lock:
            try:
                self.lock.acquire()
            except LockHeld as exc:
                raise StoreError("in_use", path=str(path.parent)) from exc
        self.engine: Engine = create_engine(
            f"sqlite:///{path}", creator=lambda: _connect(path, key), module=sqlcipher3,
            poolclass=QueuePool, pool_size=1, max_overflow=4,
        )
        event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def unclean_shutdown(self) -> bool:
        return self.lock.unclean_shutdown

    def session(self) -> Session:
        return self.sessions()

    def verify_key(self) -> None:
        """Read the first page: a wrong key or a damaged header fails here, not in the middle of some later work."""
        try:
            self.pragma("SELECT count(*) FROM sqlite_master")
        except (DBAPIError, sqlcipher3.DatabaseError) as exc:
            if _is_not_a_database(exc):
                raise StoreError("database_key_mismatch", path=str(self.path)) from exc
            raise StoreError("database_unreadable", path=str(self.path), detail=str(exc)) from exc

    def pragma(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a maintenance statement outside any transaction (checkpoints and checks need that)."""
        raw = self.engine.raw_connection()
        try:
            return list(raw.driver_connection.execute(sql).fetchall())  # type: ignore[union-attr]
        finally:
            raw.close()

    def audit_head(self) -> tuple[int, str]:
        """(seq, hash) of the newest audit entry; (0, GENESIS) for an empty log."""
        rows = self.pragma("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        return (int(rows[0][0]), str(rows[0][1])) if rows else (0, "0" * 64)

    # --- schema -------------------------------------------------------------------------------------------------
    def revision(self) -> str | None:
        rows = self.pragma("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
        if not rows:
            return None
        found = self.pragma("SELECT version_num FROM alembic_version")
        return found[0][0] if found else None

    def migrate(self) -> str | None:
        """Bring the schema to SCHEMA_HEAD. Returns the revision found before (None for a new database)."""
        found = self.revision()
        if found == SCHEMA_HEAD:
            return found
        if found is not None and found not in KNOWN_REVISIONS:
            raise StoreError("schema_too_new", found=found)
        if found is not None:
            self._keep_copy_before_upgrade(found)
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, SCHEMA_HEAD)
        return found

    def _keep_copy_before_upgrade(self, found: str) -> None:
        # The copy is the encrypted file as it is: if an upgrade goes wrong on a laptop far from help, IT staff can
        # put it back by hand with the same key.
        self.pragma("PRAGMA wal_checkpoint(TRUNCATE)")
        target = self.path.with_name(f"{self.path.name}.before-{found}-to-{SCHEMA_HEAD}")
        if not target.exists():
            shutil.copy2(self.path, target)
            fsync_file(target)

    # --- integrity ----------------------------------------------------------------------------------------------
    def integrity(self) -> IntegrityReport:
        report = IntegrityReport()
        with contextlib.suppress(DBAPIError, sqlcipher3.DatabaseError):
            # Move committed pages from the WAL into the file so the page checks see everything.
            self.pragma("PRAGMA wal_checkpoint(TRUNCATE)")
        raw = self.engine.raw_connection()
        conn = raw.driver_connection
        try:
            # integrity_check walks every index against its table; with a larger page cache for the duration it
            # runs in about two thirds of the time on a 100k-patient database (bench/store.py).
            conn.execute(f"PRAGMA cache_size = -{CHECK_CACHE_KIB}")  # type: ignore[union-attr]
            checks = (
                ("check.cipher_integrity", "PRAGMA cipher_integrity_check",
                 lambda rows: [" ".join(str(c) for c in row) for row in rows]),
                ("check.sqlite_integrity", "PRAGMA integrity_check",
                 lambda rows: [] if [r[0] for r in rows] == ["ok"] else [str(r[0]) for r in rows]),
                ("check.foreign_keys", "PRAGMA foreign_key_check",
                 lambda rows: [f"{r[0]} rowid {r[1]} -> {r[2]}" for r in rows]),
            )
            for name, sql, problems in checks:
                try:
                    report.results[name] = problems(conn.execute(sql).fetchall())  # type: ignore[union-attr]
                except sqlcipher3.DatabaseError as exc:
                    report.results[name] = [str(exc)]
        finally:
            with contextlib.suppress(sqlcipher3.DatabaseError):
                conn.execute(CACHE_PRAGMA)  # type: ignore[union-attr]  # give the memory back
            raw.close()
        return report

    def reset_connections(self) -> None:
        """Drop pooled connections. One that met a page failing authentication stays in an error state (SQLite
        then refuses even to begin a write), so after a failed check the next statement must start afresh."""
        self.engine.dispose()

    def close(self, clean: bool = True) -> None:
        """Close every connection (the last one checkpoints and removes the WAL) and release the lock."""
        try:
            self.engine.dispose()
        finally:
            if self._owns_lock:
                self.lock.release(clean=clean)


def open_database(path: Path, key: SecretKey, *, create: bool = False) -> Database:
    """Open (or with `create`, build) the database at `path` with `key`, migrated to the current schema.

    Raises StoreError: `in_use`, `database_key_mismatch`, `database_unreadable`, `schema_too_new`.
    """
    if create:
        if path.exists() and path.stat().st_size > 0:
            raise StoreError("already_initialised", path=str(path.parent))
        # Created here, private, before SQLite opens it: SQLite would use the umask (often world-readable), and
        # its -wal and -shm files copy the database file's permissions.
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE)
        os.close(fd)
    elif not path.exists():
        # SQLite would happily create an empty database here and the store would then build a new, empty clinic.
        raise StoreError("database_missing", path=str(path))
    db = Database(path, key)
    try:
        db.verify_key()
        if create and db.revision() is not None:
            raise StoreError("already_initialised", path=str(path.parent))
        db.migrate()
    except BaseException:
        db.close(clean=not db.unclean_shutdown)
        raise
    return db
