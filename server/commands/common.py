"""What every `vereda-server` command group shares: exit codes, JSON output, the operator's error, who acts, and
the settings and database sessions of an admin command."""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Sequence
from typing import Any

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2


class UsageError(Exception):
    """Something the operator asked that cannot be done as asked; the message says what to do instead."""


def dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, default=str)


def error_line(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "field": None, "message": message}}, ensure_ascii=False)


def actor(args: argparse.Namespace) -> str:
    if getattr(args, "by", None):
        return str(args.by)
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def load_settings(args: argparse.Namespace) -> Any:
    from server.core.config import Settings

    return Settings.load(database_url=getattr(args, "database", None))


def sessions(args: argparse.Namespace) -> Any:
    from server.db import migrate
    from server.db.session import make_engine, make_sessions

    engine = make_engine(load_settings(args).database)
    migrate.upgrade(engine)
    return make_sessions(engine, write=True)


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Left-aligned columns as wide as their widest cell, for the listing commands."""
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
