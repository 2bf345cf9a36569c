"""The browser login's rate limit waits on the database; it must not stall the worker's other requests meanwhile.

A real `vereda-server serve` (one worker, so one event loop) on a SQLite file. The test holds SQLite's write lock
from its own connection, which makes the shared login limiter wait (its bucket is a row of `rate_limits`), posts a
login, and asks /health while that login is waiting. Before the limiter ran in the thread pool, /health waited for
the lock too, because the event loop itself was blocked.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from pathlib import Path

import requests

from tests.server.helpers import Server

HOLD_SECONDS = 4.0


def test_a_login_waiting_on_the_rate_limit_does_not_block_other_requests(tmp_path: Path) -> None:
    database = tmp_path / "central.db"
    server = Server(f"sqlite:///{database}", tmp_path, env={"VEREDA_SERVER_LOGIN_RATE_PER_MINUTE": "30"})
    try:
        browser = requests.Session()
        form = browser.get(f"{server.url}/app/login", timeout=10)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None
        lock = sqlite3.connect(database, timeout=30, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # the limiter's INSERT … ON CONFLICT now waits for this transaction
        login_answer: list[requests.Response] = []

        def log_in() -> None:
            login_answer.append(browser.post(f"{server.url}/app/login", allow_redirects=False, timeout=60,
                                             data={"username": "dra.rojas", "password": "una clave cualquiera",
                                                   "csrf_token": csrf.group(1)}))

        started = time.monotonic()
        waiting = threading.Thread(target=log_in)
        waiting.start()
        try:
            time.sleep(0.5)  # the login is now inside the limiter, waiting on the lock
            health = requests.get(f"{server.url}/health", timeout=HOLD_SECONDS)
            answered_after = time.monotonic() - started
            assert health.status_code == 200
            assert not login_answer, "the login should still be waiting on the database lock"
            assert answered_after < HOLD_SECONDS - 1.0, answered_after
        finally:
            time.sleep(max(0.0, HOLD_SECONDS - (time.monotonic() - started)))
            lock.execute("ROLLBACK")
            lock.close()
            waiting.join(timeout=60)
        # The login itself went on once the lock was released: an unknown account, so 401, not a 5xx.
        assert login_answer and login_answer[0].status_code == 401, login_answer
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text(errors="replace")
