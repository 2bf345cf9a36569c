"""Fixtures for the central service's tests: servers started per module, and PostgreSQL when there is one.

PostgreSQL comes from `VEREDA_TEST_PG_URL` (an admin URL; tests create their own databases in it) or from a throwaway
cluster started by `scripts/pg_test_server.py`; without either, the PostgreSQL tests skip and say why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.server.helpers import ROOT, Server


@pytest.fixture(scope="module")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []
    workdir = tmp_path_factory.mktemp("server")

    def start(database: str, **kwargs: Any) -> Server:
        server = Server(database, workdir, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# --- PostgreSQL ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    url = os.environ.get("VEREDA_TEST_PG_URL")
    if url:
        yield url
        return
    started = subprocess.run([sys.executable, str(ROOT / "scripts" / "pg_test_server.py"), "start"],
                             capture_output=True, text=True, timeout=180)
    if started.returncode != 0:
        reason = started.stderr.strip().splitlines()[-1] if started.stderr.strip() else "unknown reason"
        pytest.skip(f"no PostgreSQL available (set VEREDA_TEST_PG_URL or install Debian's postgresql): {reason}")
    info = json.loads(started.stdout)
    try:
        yield info["url"]
    finally:
        subprocess.run([sys.executable, str(ROOT / "scripts" / "pg_test_server.py"), "stop", info["dir"]],
                       capture_output=True, timeout=120)


