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
import errno
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlcipher3
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import PoolProxiedConnection, QueuePool

from app.core.files import PRIVATE_FILE
from app.store.files import DatabaseLock, LockHeld, fsync_file
from app.store.keys import SecretKey
from app.store.messages import StoreError

SCHEMA_HEAD = "0002"
KNOWN_REVISIONS = ("0001", "0002")  # in order; a test checks this matches the Alembic scripts
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


# A plain (unencrypted) SQLite file starts with this; an SQLCipher file starts with its random salt.
PLAIN_SQLITE_HEADER = b"SQLite format 3\x00"
# What a full disk looks like from here: ENOSPC (no space), EDQUOT (quota), EFBIG (file size limit); SQLite reports
# the first as SQLITE_FULL and a short write it cannot finish as SQLITE_IOERR (its primary result codes).
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
SQLITE_IOERR, SQLITE_FULL = 10, 13
NEARLY_FULL = 1 << 20  # free bytes under which an I/O error is taken for a full disk


def disk_problem(exc: BaseException) -> str | None:
    """"disk_full" or "disk_write_failed" when `exc` (or what caused it) is the disk refusing a write, else None."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            return "disk_full"
        if isinstance(current, sqlcipher3.Error):
            code = getattr(current, "sqlite_errorcode", None)
            if (code is not None and code & 0xFF == SQLITE_FULL) or "database or disk is full" in str(current):
                return "disk_full"
            if code is not None and code & 0xFF == SQLITE_IOERR:
                return "disk_write_failed"
        todo.extend((getattr(current, "orig", None), current.__cause__, current.__context__))
    return None


def _nearly_full(path: Path) -> bool:
    for candidate in (path, *path.parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free < NEARLY_FULL
            except OSError:
                return False
    return False


@contextlib.contextmanager
def disk_errors(path: Path) -> Iterator[None]:
    """Turn the disk refusing a write (full, over quota, over the size limit, failing) into a `StoreError` the clinic
    can read, instead of "[Errno 28]" or a raw SQLAlchemy error. SQLite rolls back the transaction that met it, and
    the files are replaced atomically, so what was acknowledged before stays as it was."""
    try:
        yield
    except StoreError:
        raise
    except (OSError, DBAPIError, sqlcipher3.Error) as exc:
        code = disk_problem(exc)
        if code is None:
            raise
        detail = getattr(getattr(exc, "orig", exc), "sqlite_errorname", None) or type(exc).__name__
        if code == "disk_write_failed" and _nearly_full(path):
            code = "disk_full"  # SQLite keeps the errno to itself (an -shm it cannot grow is just SQLITE_IOERR)
        if code == "disk_full":
            raise StoreError(code, path=str(path)) from exc
        raise StoreError(code, path=str(path), detail=detail) from exc


def refuse_foreign_file(path: Path) -> None:
    """An existing database file that cannot be this clinic's: refused before SQLite opens it, because SQLite would
    take an empty file for a new database and the store would build a new, empty clinic inside it."""
    size = path.stat().st_size
    if size == 0:
        raise StoreError("database_empty", path=str(path))
    with path.open("rb") as fh:
        head = fh.read(len(PLAIN_SQLITE_HEADER))
    if head == PLAIN_SQLITE_HEADER:
        raise StoreError("database_foreign", path=str(path), detail="SQLite file without encryption")



def driver(raw: PoolProxiedConnection) -> sqlcipher3.Connection:
    """The sqlcipher3 connection under SQLAlchemy's pooled one, for what only the driver can do (ATTACH ... KEY,
    PRAGMAs outside a transaction). SQLAlchemy types it as optional: it is None only once the connection closed."""
    conn = raw.driver_connection
    if conn is None:
        raise RuntimeError("the database connection is already closed")
    return conn


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
            if disk_problem(exc) is not None:
                with disk_errors(self.path.parent):  # opening creates the -wal and -shm files: a full disk
                    raise
            raise StoreError("database_unreadable", path=str(self.path), detail=str(exc)) from exc

    def pragma(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a maintenance statement outside any transaction (checkpoints and checks need that)."""
        raw = self.engine.raw_connection()
        try:
            return list(driver(raw).execute(sql).fetchall())
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
        with self.engine.connect() as conn:
            # SQLite's way to rebuild a table (its ALTER TABLE page, step 1): foreign keys off, set outside any
            # transaction or SQLite ignores it; else dropping the old copy of a table cascades into the rows that
            # point at it. They are checked before the commit and turned back on for whoever reuses the connection.
            raw = driver(conn.connection)
            raw.execute("PRAGMA foreign_keys = OFF")
            try:
                with conn.begin():
                    config.attributes["connection"] = conn
                    command.upgrade(config, SCHEMA_HEAD)
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise StoreError("database_damaged", path=str(self.path),
                                         detail=f"{len(broken)} broken references after the upgrade to {SCHEMA_HEAD}")
            finally:
                raw.execute("PRAGMA foreign_keys = ON")
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
        with disk_errors(self.path.parent):
            try:
                # Move committed pages from the WAL into the file so the page checks see everything.
                self.pragma("PRAGMA wal_checkpoint(TRUNCATE)")
            except (DBAPIError, sqlcipher3.DatabaseError) as exc:
                # A disk that refuses the copy can leave a part-written last page in the file while the WAL still
                # holds every committed page: the page checks would call that damage. Say what it is instead.
                if disk_problem(exc) is not None:
                    raise
        raw = self.engine.raw_connection()
        conn = driver(raw)
        try:
            # integrity_check walks every index against its table; with a larger page cache for the duration it
            # runs in about two thirds of the time on a 100k-patient database (bench/store.py).
            conn.execute(f"PRAGMA cache_size = -{CHECK_CACHE_KIB}")
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
                    report.results[name] = problems(conn.execute(sql).fetchall())
                except sqlcipher3.DatabaseError as exc:
                    report.results[name] = [str(exc)]
        finally:
            with contextlib.suppress(sqlcipher3.DatabaseError):
                conn.execute(CACHE_PRAGMA)  # give the memory back
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

    Raises StoreError: `in_use`, `database_key_mismatch`, `database_unreadable`, `schema_too_new`, and for a file
    that cannot be a clinic's (checked before anything is written) `database_empty` or `database_foreign`.
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
    else:
        refuse_foreign_file(path)
    db = Database(path, key)
    try:
        db.verify_key()
        found = db.revision()
        if create and found is not None:
            raise StoreError("already_initialised", path=str(path.parent))
        if not create and found is None:
            # The key opens it but there is no schema: not a clinic's database. Never build one in its place.
            raise StoreError("database_foreign", path=str(path), detail="no Vereda schema")
        db.migrate()
    except BaseException:
        db.close(clean=not db.unclean_shutdown)
        raise
    return db
