"""The encrypted patient store: SQLCipher 4 through sqlcipher3 and SQLAlchemy 2, key handling, Alembic migrations,
the hash-chained audit log, and encrypted backups. No Qt here (tests/test_layering.py keeps it so).

Start with `ClinicStore` (app/store/store.py); docs/security.md says which safeguard lives where.
"""

from __future__ import annotations

from app.store.backup import RestoreResult, restore_backup
from app.store.check import CheckReport
from app.store.keys import DEFAULT_KDF, MIN_PASSPHRASE, KdfParams
from app.store.messages import StoreError
from app.store.store import ClinicStore, DataFolder, Principal, default_data_dir

__all__ = [
    "DEFAULT_KDF",
    "MIN_PASSPHRASE",
    "CheckReport",
    "ClinicStore",
    "DataFolder",
    "KdfParams",
    "Principal",
    "RestoreResult",
    "StoreError",
    "default_data_dir",
    "restore_backup",
]
