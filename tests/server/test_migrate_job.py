"""Replicas that do not migrate (issue 16, part 4): on Kubernetes the schema changes once per release, in a job
(`vereda-server migrate`), never in each pod as it starts, so `serve` can be told to only check the schema.

Real processes of the `vereda-server` console script on a real database file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import requests

from tests.server.helpers import run_cli, server_command


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _serve(database: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[
        str]:
    """`serve` on a schema that is not at head: it must stop by itself (if it started, the timeout fails the test)."""
    return subprocess.run([*server_command(), "serve", "--database", database, "--port", "1", *args],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={**os.environ, "VEREDA_SERVER_DATA_DIR": str(tmp_path / "data"), **(env or {})})


def test_a_replica_told_not_to_migrate_refuses_an_old_schema_and_the_job_migrates(start_server: Any,
                                                                                  tmp_path: Path) -> None:
    path = tmp_path / "vereda-server.db"
    database = f"sqlite:///{path}"
    path.touch()  # an empty database, as a new release's pods would find it before the job has run

    for how in ({"args": ["--no-migrate"]}, {"env": {"VEREDA_SERVER_MIGRATE_AT_START": "false"}}):
        refused = _serve(database, tmp_path, *how.get("args", []), env=how.get("env"))  # type: ignore[arg-type]
        assert refused.returncode == 2, (how, refused.stderr[-2000:])
        error = json.loads(refused.stderr.strip().splitlines()[-1])["error"]
        assert "vereda-server migrate" in error["message"] and "none (empty)" in error["message"], error
        assert _tables(path) == set(), how  # nothing was created or changed

    migrated = run_cli("migrate", "--database", database)
    assert migrated.returncode == 0, migrated.stderr
    first = json.loads(migrated.stdout)
    assert first["migrated"] is True and first["previous"] is None and first["revision"]
    assert "alembic_version" in _tables(path) and "feedback_records" in _tables(path)
    again = json.loads(run_cli("migrate", "--database", database).stdout)
    assert again == {"revision": first["revision"], "previous": first["revision"], "migrated": False}

    # With the schema at head the same replica starts and answers (two workers, each checking, none migrating).
    server = start_server(database, workers=2, env={"VEREDA_SERVER_MIGRATE_AT_START": "false"})
    assert requests.get(f"{server.url}/health", timeout=10).json()["database"] == "ok"
    assert "Traceback" not in server.log.read_text()
