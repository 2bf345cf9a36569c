"""Logging for every Vereda process: one rotating file per user in the platform's log folder, nothing on screen.

The doctor sees messages in their words; the full story, tracebacks included, goes to the log file an IT technician
can open on the next visit. `VEREDA_LOG_DIR` overrides the folder (tests, portable installs).
"""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

from app import paths

LOG_FILE = "vereda.log"
MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 5


def log_dir() -> Path:
    return paths.log_dir()


def configure(level: int = logging.INFO) -> Path | None:
    """Send all logging to the rotating file; returns its path, or None when the folder cannot be written."""
    root = logging.getLogger()
    root.setLevel(level)
    # Without a handler Python prints warnings and tracebacks to stderr, which would break the CLI's JSON on stderr.
    for old in list(root.handlers):
        root.removeHandler(old)
    path = log_dir() / LOG_FILE
    written: Path | None = path
    handler: logging.Handler
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    except OSError:
        handler, written = logging.NullHandler(), None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"))
    root.addHandler(handler)
    return written
