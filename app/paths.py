"""Where Vereda keeps things on a laptop: one place, from platformdirs, never hand-built per OS.

- the clinic's data folder (encrypted database, keys, installed model updates): `data_dir()`, or VEREDA_DATA_DIR;
- the person's preferences (language, window state): `config_dir()`, or VEREDA_CONFIG_DIR;
- the rotating log: `log_dir()`, or VEREDA_LOG_DIR.
The environment overrides exist for tests and for IT staff who keep a clinic on another disk.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "Vereda"


def data_dir() -> Path:
    """Where the clinic's data lives unless IT staff say otherwise (VEREDA_DATA_DIR, or per-user data folder)."""
    override = os.environ.get("VEREDA_DATA_DIR")
    return Path(override) if override else platformdirs.user_data_path(APP, appauthor=False)


def config_dir() -> Path:
    override = os.environ.get("VEREDA_CONFIG_DIR")
    return Path(override) if override else platformdirs.user_config_path(APP, appauthor=False)


def log_dir() -> Path:
    override = os.environ.get("VEREDA_LOG_DIR")
    return Path(override) if override else platformdirs.user_log_path(APP, appauthor=False)
