"""Failed logins before the database is open: a persisted back-off, and a list waiting to enter the audit log.

A wrong passphrase cannot be written to the audit log at the moment it happens, because the audit log is inside the
database the passphrase failed to open. So failures go to `login-attempts.json` next to it and are moved into the
audit log at the next successful login. The same file holds the back-off: after a few free failures each further
one doubles the wait (1 s, 2 s, 4 s ... at most 5 min), per login and for all logins together, and the wait
survives restarting the program. It slows someone guessing at the keyboard; it cannot stop someone who copies the
files (deleting this file resets it), which is what the memory-hard KDF is for.

Unknown login names are recorded as "?" so that a passphrase typed into the user-name box never lands on disk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.files import write_json_atomic
from app.store.messages import StoreError

FREE_FAILURES_PER_LOGIN = 3
FREE_FAILURES_TOTAL = 10
MAX_WAIT_SECONDS = 300.0
MAX_UNAUDITED = 1000
ALL = "*"
UNKNOWN = "?"
RECOVERY = "#recovery"


def wait_after(failures: int, free: int) -> float:
    """Seconds to wait after `failures` consecutive failures, the first `free` of which cost nothing."""
    if failures <= free:
        return 0.0
    return min(MAX_WAIT_SECONDS, 2.0 ** (failures - free - 1))


class LoginAttempts:
    def __init__(self, path: Path, clock: Callable[[], float]) -> None:
        self.path = path
        self.clock = clock

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"counters": {}, "unaudited": []}
        except (OSError, ValueError):
            # A damaged file must not lock the clinic out; start again (the KDF still protects the key).
            return {"counters": {}, "unaudited": []}
        data.setdefault("counters", {})
        data.setdefault("unaudited", [])
        return data

    def _save(self, data: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):  # a read-only stick must not turn a wrong passphrase into a crash
            write_json_atomic(self.path, data)

    def check_allowed(self, login: str) -> None:
        """Raise `too_many_attempts` while `login` (or everyone) must still wait."""
        data = self._load()
        now = self.clock()
        waits = [data["counters"].get(k, {}).get("next_allowed", 0.0) - now for k in (login, ALL)]
        wait = max(waits)
        if wait > 0:
            raise StoreError("too_many_attempts", seconds=math.ceil(wait))

    def record_failure(self, login: str, reason: str) -> None:
        data = self._load()
        now = self.clock()
        for key, free in ((login, FREE_FAILURES_PER_LOGIN), (ALL, FREE_FAILURES_TOTAL)):
            counter = data["counters"].setdefault(key, {"failures": 0, "next_allowed": 0.0})
            counter["failures"] += 1
            counter["next_allowed"] = now + wait_after(counter["failures"], free)
        at = dt.datetime.fromtimestamp(now, dt.UTC).isoformat(timespec="microseconds")
        data["unaudited"] = [*data["unaudited"], {"at": at, "login": login, "reason": reason}][-MAX_UNAUDITED:]
        self._save(data)

    def record_success(self, login: str) -> list[dict[str, Any]]:
        """Reset the counters of `login` and of everyone; return the failures not yet in the audit log.

        They stay in the file until `forget_audited` says the audit log has them, so a crash in between loses none.
        """
        data = self._load()
        removed = [data["counters"].pop(key, None) for key in (login, ALL)]
        if any(r is not None for r in removed):
            self._save(data)
        return list(data["unaudited"])

    def forget_audited(self, count: int) -> None:
        if count <= 0:
            return
        data = self._load()
        data["unaudited"] = data["unaudited"][count:]
        self._save(data)
