"""Writing a file so that a crash or a power cut leaves the old content or the new one, never half of each.

The one way Vereda replaces a file (the way Electrum writes wallets): a temporary file beside the target, fsync,
`os.replace`, then fsync of the folder so the rename itself is on disk. Used by the patient store's key files,
the active-model pointer, signatures, USB files, preferences, letters and the build's bundle files alike; it lives
in `app/core` because every layer (the central service and the build included) may use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PRIVATE_FILE = 0o600
PUBLIC_FILE = 0o644


def fsync_dir(path: Path) -> None:
    # On POSIX the rename is durable only once the folder entry is on disk; Windows has no folder fsync.
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes | Iterable[bytes], *, mode: int = PRIVATE_FILE) -> None:
    """Replace `path` with `data` (bytes, or chunks of bytes) atomically and durably.

    `mode` defaults to owner-only: most of what Vereda writes is private (keys, backups, patient letters); pass
    PUBLIC_FILE for what is meant to be shared (a model bundle's files).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in (data,) if isinstance(data, bytes | bytearray | memoryview) else data:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        if os.name == "posix":
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_json_atomic(path: Path, obj: Any, *, mode: int = PRIVATE_FILE) -> None:
    write_atomic(path, (json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8"),
                 mode=mode)
