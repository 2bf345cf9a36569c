"""The encrypted patient store: SQLCipher 4 through sqlcipher3 and SQLAlchemy 2, key handling, Alembic migrations,
the hash-chained audit log, and encrypted backups. No Qt here (tests/test_layering.py keeps it so).

Start with `ClinicStore` (app/store/store.py) and its parts (`store.users`, `store.patients`, `store.encounters`,
`store.outbox`, `store.settings`, `store.bundles`, `store.audit`); docs/security.md says which safeguard lives where.

The names below are loaded on first use: importing SQLAlchemy takes most of a second on an old laptop, and the
desktop app shows its login window before it needs any of it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RestoreResult": "app.store.backup",
    "CheckReport": "app.store.check",
    "DEFAULT_KDF": "app.store.keys",
    "MIN_PASSPHRASE": "app.store.keys",
    "KdfParams": "app.store.keys",
    "StoreError": "app.store.messages",
    "ClinicStore": "app.store.store",
    "DataFolder": "app.store.context",
    "Principal": "app.store.context",
    "default_data_dir": "app.store.store",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'app.store' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
