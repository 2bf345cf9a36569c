"""Files next to the database: atomic writes, private permissions, and the open-database lock that tells a clean
shutdown from a crash.

Key files and the backup are written with `app.core.files.write_atomic` (temp file, fsync, `os.replace`, fsync of
the folder), so a power cut leaves either the old file or the new one, never half of each. The `DatabaseLock` is an OS
lock on `vereda.lock` (released by the kernel when the process dies, even by `kill -9`) plus a line inside the file
saying "open" or "closed": finding "open" when we take the lock means the last process died with the database open,
and the store then runs the integrity checks before anyone works on it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import IO

from app.core.files import PRIVATE_FILE

log = logging.getLogger(__name__)

# The files of a clinic's data folder. Here, in a module with no database imports, so that the desktop app can tell
# "first run" from "login" before it loads SQLAlchemy.
DB_FILE = "vereda.db"
KEYRING_FILE = "keys.json"
ATTEMPTS_FILE = "login-attempts.json"
ANCHOR_FILE = "audit-anchor.json"


def is_initialised(data_dir: Path) -> bool:
    """Whether `data_dir` holds a clinic (its keyring exists)."""
    return (Path(data_dir) / KEYRING_FILE).exists()

PRIVATE_DIR = 0o700


def make_private_dir(path: Path) -> None:
    """Create `path` (and parents) readable only by the current user, where the OS has POSIX permissions."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    if os.name == "posix":
        with contextlib.suppress(OSError):  # a folder we do not own (a mounted USB stick) keeps its permissions
            path.chmod(PRIVATE_DIR)


def fsync_file(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


class LockHeld(Exception):
    """Another process holds the database lock."""


def _try_lock(fh: IO[bytes]) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(fh: IO[bytes]) -> None:
    if sys.platform == "win32":
        import msvcrt

        with contextlib.suppress(OSError):
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class DatabaseLock:
    """Exclusive use of one data folder by one process, and the memory of whether the last use ended cleanly.

    The state line is rewritten in place (not by rename) because the OS lock belongs to this open file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[bytes] | None = None
        self.unclean_shutdown = False

    def acquire(self) -> None:
        fh = open(self.path, "a+b")  # noqa: SIM115 - kept open while the lock is held
        if os.name == "posix":
            with contextlib.suppress(OSError):
                os.chmod(self.path, PRIVATE_FILE)
        if not _try_lock(fh):
            fh.close()
            raise LockHeld(str(self.path))
        fh.seek(0)
        previous = fh.read().decode("utf-8", "replace")
        self.unclean_shutdown = previous.startswith("open")
        self._fh = fh
        self._write(f"open pid={os.getpid()}\n")

    def _write(self, line: str) -> None:
        assert self._fh is not None
        # Byte 0 is what Windows locks; the state is padded so a shorter line never leaves a tail of the old one.
        # (The file is open for appending, so it is emptied first; the new state reuses the space it freed.)
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(line.ljust(32).encode("ascii"))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def release(self, clean: bool = True) -> None:
        if self._fh is None:
            return
        try:
            if clean:
                try:
                    self._write("closed\n")
                except OSError:
                    # A full disk: the state stays "open", so the next unlock checks the database first. Safe.
                    log.warning("could not mark %s closed", self.path, exc_info=True)
            _unlock(self._fh)
        finally:
            self._fh.close()
            self._fh = None

    @property
    def held(self) -> bool:
        return self._fh is not None
