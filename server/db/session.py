"""Database engines and sessions: one engine per process, SQLite tuned for several writers, PostgreSQL pooled.

SQLite gets WAL (readers never wait for the writer), a busy timeout (a second worker queues instead of failing with
"database is locked") and foreign keys. Sessions that write (`make_sessions(engine, write=True)`) start with
`BEGIN IMMEDIATE`, so two writers queue on the lock up front instead of one failing halfway on a lock upgrade;
sessions that only read start a plain deferred transaction and never block anyone. PostgreSQL uses its defaults
(READ COMMITTED), which the idempotent intake relies on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

WRITE_OPTION = "vereda_write"
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA busy_timeout = 30000",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",
)


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide when transactions start (pysqlite's default ignores BEGIN).
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(pragma)
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")

        return engine
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, **kwargs)


def make_sessions(engine: Engine, write: bool = False) -> sessionmaker[Session]:
    """Sessions on `engine`; `write=True` for transactions that will write (IMMEDIATE on SQLite)."""
    bind = engine.execution_options(**{WRITE_OPTION: True}) if write else engine
    return sessionmaker(bind, expire_on_commit=False)
