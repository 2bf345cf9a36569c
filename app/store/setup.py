"""Setting up a clinic folder so that it is either complete or absent: `vereda init` and `vereda demo`.

The clinic is built in a staging folder beside the target (`.<name>.setup-XXXX`, same disk, so the final step is a
rename), locked, and only then renamed into place. A `kill -9`, a power cut or a full disk before the rename leaves
the target as it was (absent or empty) and a staging folder that the next attempt removes; after the rename the
folder is complete. A target that already holds other files gets the staged files moved in one by one with the
keyring last: until the keyring exists the folder is not a clinic, so that path is safe too.

A folder left half-made by an older Vereda (a keyring with an empty or missing database, or a database without its
keyring) is recognised and refused with a hint (`unfinished_setup`) instead of being overwritten or half-used.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from app.core.files import fsync_dir
from app.store.database import disk_errors
from app.store.files import ANCHOR_FILE, DB_FILE, KEYRING_FILE, DatabaseLock, LockHeld
from app.store.messages import StoreError

log = logging.getLogger(__name__)

STAGING_MARK = ".setup-"
LOCK_FILE = "vereda.lock"
# What only a Vereda store puts in its folder: any of them without the keyring is a setup that never finished.
STORE_FILES = frozenset({DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", LOCK_FILE, ANCHOR_FILE})


def check_target(target: Path) -> None:
    """Refuse a folder that already is a clinic, or that an interrupted setup left half-made. Writes nothing."""
    target = Path(target)
    if not target.exists():
        return
    if not target.is_dir():
        raise StoreError("folder_not_empty", path=str(target))
    names = {p.name for p in target.iterdir()}
    if KEYRING_FILE in names:
        db = target / DB_FILE
        if not db.exists():
            raise StoreError("unfinished_setup", path=str(target), detail=f"{KEYRING_FILE} without {DB_FILE}")
        if db.stat().st_size == 0:
            raise StoreError("unfinished_setup", path=str(target), detail=f"{KEYRING_FILE} with an empty {DB_FILE}")
        raise StoreError("already_initialised", path=str(target))
    found = sorted(names & STORE_FILES)
    if found:
        raise StoreError("unfinished_setup", path=str(target), detail=f"{', '.join(found)} without {KEYRING_FILE}")


def _staging_folders(target: Path) -> list[Path]:
    return [p for p in target.parent.glob(f".{target.name}{STAGING_MARK}*") if p.is_dir()]


def remove_abandoned_staging(target: Path) -> None:
    """Delete staging folders an earlier, killed setup of `target` left (they never held anything but the setup
    itself); one whose store is open in a running process is left alone."""
    for staging in _staging_folders(target):
        lock = DatabaseLock(staging / LOCK_FILE)
        try:
            lock.acquire()
        except LockHeld:
            continue
        except OSError:
            pass
        else:
            lock.release(clean=False)
        log.info("removing %s, left by an interrupted setup", staging)
        shutil.rmtree(staging, ignore_errors=True)


def _publish(staging: Path, target: Path) -> None:
    if not target.exists() or not any(target.iterdir()):
        if target.exists() and os.name != "posix":
            target.rmdir()  # POSIX rename replaces an empty folder in one step; Windows needs it gone first
        os.rename(staging, target)
        fsync_dir(target.parent)
        return
    # The target holds unrelated files: move ours in, the keyring last (the file that makes the folder a clinic).
    order = sorted((p for p in staging.iterdir() if p.name != KEYRING_FILE), key=lambda p: p.name)
    for path in [*order, staging / KEYRING_FILE]:
        os.replace(path, target / path.name)
    fsync_dir(target)
    staging.rmdir()


@contextlib.contextmanager
def building(target: Path) -> Iterator[Path]:
    """A staging folder to build the clinic of `target` in. When the block ends normally (with the store locked),
    the staging folder becomes `target`; when it fails, it is removed and `target` is untouched."""
    target = Path(target).absolute()
    check_target(target)
    with disk_errors(target.parent):
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned_staging(target)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}{STAGING_MARK}", dir=target.parent))  # mode 0700
    try:
        yield staging
        with disk_errors(target.parent):
            check_target(target)  # nothing appeared there while we were building
            _publish(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


__all__ = ["building", "check_target", "remove_abandoned_staging"]
