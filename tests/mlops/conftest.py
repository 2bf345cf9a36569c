"""Fixtures for the MLOps loop's tests: the real-server fixture of tests/server."""

from __future__ import annotations

from tests.server.conftest import start_server  # noqa: F401 - the fixture, shared with tests/server
