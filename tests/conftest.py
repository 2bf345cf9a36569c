"""Shared fixtures: the shipped bundle and an engine on it (loaded once per test session)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def bundle_dir() -> Path:
    return ROOT / "assets" / "models"


@pytest.fixture(scope="session")
def engine(bundle_dir: Path):
    from app.core.engine import DiagnosisEngine

    return DiagnosisEngine.load(bundle_dir)


@pytest.fixture(autouse=True, scope="session")
def _logs_in_a_temp_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Subprocesses and in-process runs log to a throwaway folder, not the developer's own log."""
    os.environ["VEREDA_LOG_DIR"] = str(tmp_path_factory.mktemp("logs"))
