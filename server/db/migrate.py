"""Bring a database to the current schema with Alembic, safely when several processes start at once.

`vereda-server serve` and every admin command call `upgrade` before touching the database. Two servers starting
together on one PostgreSQL take turns on an advisory lock inside the migration's transaction (DDL is transactional
there, so the second one finds the schema at head); on SQLite a lock file beside the database does the same.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine, make_url

from server.db.session import WRITE_OPTION

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
PG_LOCK_KEY = 0x5645_5245_4441  # "VEREDA": any constant shared by all processes of this service


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextlib.contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    database = make_url(str(engine.url)).database
    if not database or database == ":memory:":
        yield
        return
    import fcntl  # POSIX only; the service runs on Linux

    path = Path(f"{database}.migrate-lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class SchemaNotReady(RuntimeError):
    """The database is not at this version's schema and this process was told not to migrate it."""


def require_head(engine: Engine) -> str:
    """Check, without changing anything, that the database is at this code's head revision (for replicas that must
    not migrate: `VEREDA_SERVER_MIGRATE_AT_START=false`)."""
    head = head_revision()
    current = current_revision(engine)
    if current != head:
        raise SchemaNotReady(
            f"the database is at schema revision {current or 'none (empty)'} and this version of vereda-server needs "
            f"{head}; run `vereda-server migrate` once for this release (the migration job), then start the service"
        )
    return head


def upgrade(engine: Engine) -> str:
    """Migrate to head; returns the revision. Refuses a database newer than this code."""
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    assert head is not None
    if current_revision(engine) == head:  # the usual case, without loading Alembic's environment
        return head
    if engine.dialect.name == "sqlite":
        lock: contextlib.AbstractContextManager[None] = _sqlite_file_lock(engine)
    else:
        lock = contextlib.nullcontext()
    with lock, engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
        current = MigrationContext.configure(conn).get_current_revision()
        known = {rev.revision for rev in script.walk_revisions()}
        if current is not None and current not in known:
            raise RuntimeError(
                f"the database is at schema revision {current}, which this version of vereda-server does not know; "
                "it was migrated by a newer version"
            )
        command.upgrade(alembic_config(conn), "head")
    return head
