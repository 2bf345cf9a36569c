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

from tests.server.browser import DESKTOP, chromium_path, launch, staff_user
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


# --- The browser page in headless Chromium -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(start_server: Callable[..., Server], tmp_path_factory: pytest.TempPathFactory,
         request: pytest.FixtureRequest) -> Server:
    """A real `vereda-server serve` on SQLite with one staff account, for one module's browser tests."""
    workdir = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    database = f"sqlite:///{workdir / 'vereda-server.db'}"
    staff_user(database, workdir)
    return start_server(database)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright; the module's tests skip, saying why, when either is missing."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium; .ci/run does it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright, executable)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A desktop-sized page of its own; a script error or a console error on it (a CSP violation) fails the test."""
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Refused requests (401, 403, 422) are logged by Chromium as "Failed to load resource"; they are expected here.
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    yield page
    context.close()
    assert not errors, f"the page reported errors: {errors}"


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


