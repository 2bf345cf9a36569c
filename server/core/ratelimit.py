"""Rate limits: a token bucket per caller, in the database for the service, in memory for small in-process uses.

`SharedRateLimiter` is what the service enforces (server.api.middleware, and the browser page's login form): its
buckets are rows of the `rate_limits` table (see `crud.take_rate_token`), so every worker process and every replica
charges the same bucket for the same caller, and N workers do not allow N times the limit. The caller is the verified
device or staff login, else the client address: a Bearer string that no device holds is charged to its address, so
random tokens are throttled like any anonymous request.

`RateLimiter` keeps buckets in one process's memory; it stays for callers that need no sharing.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from server.db import crud


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """In one process's memory. `allow(key)` is called from the event loop only, so it needs no lock."""

    PRUNE_EVERY = 10_000

    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second = per_second
        self.burst = float(burst)
        self._buckets: dict[str, _Bucket] = {}
        self._calls = 0

    @property
    def enabled(self) -> bool:
        return self.per_second > 0

    def allow(self, key: str, now: float | None = None) -> float:
        """0 when the request may go ahead, else the seconds until it would be allowed."""
        if not self.enabled:
            return 0.0
        now = time.monotonic() if now is None else now
        self._calls += 1
        if self._calls % self.PRUNE_EVERY == 0:
            self._prune(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.per_second)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.per_second

    def _prune(self, now: float) -> None:
        # A bucket that would be full again is the same as no bucket: forget it, so memory follows active callers.
        refill = self.burst / self.per_second
        for key in [k for k, b in self._buckets.items() if now - b.updated >= refill]:
            del self._buckets[key]


class SharedRateLimiter:
    """Token buckets in the database, shared by all processes. `allow` and `charge` block on the database."""

    PRUNE_EVERY = 5_000  # charges per process between deletions of buckets that are full again

    def __init__(self, sessions: sessionmaker[Session], per_second: float, burst: int, namespace: str) -> None:
        self.per_second = per_second
        self.burst = burst
        self.namespace = namespace
        self._sessions = sessions
        self._calls = 0  # a lost increment between threads only delays one pruning

    @property
    def enabled(self) -> bool:
        return self.per_second > 0

    def bucket(self, key: str) -> str:
        # Hashed: a key may hold a user name someone typed (or a password typed into the name field) or an address,
        # none of which belongs in a table that is kept and backed up.
        return f"{self.namespace}:{hashlib.sha256(key.encode('utf-8', 'backslashreplace')).hexdigest()[:40]}"

    def charge(self, session: Session, key: str, now: float | None = None) -> float:
        """Charge one request to `key` inside the caller's transaction; 0 when allowed, else seconds to wait."""
        if not self.enabled:
            return 0.0
        now = time.time() if now is None else now
        self._calls += 1
        if self._calls % self.PRUNE_EVERY == 0:
            crud.forget_full_rate_buckets(session, now)
        return crud.take_rate_token(session, self.bucket(key), now, 1.0 / self.per_second, self.burst)

    def allow(self, key: str, now: float | None = None) -> float:
        """`charge` in a transaction of its own (the interface of `RateLimiter.allow`)."""
        if not self.enabled:
            return 0.0
        with self._sessions() as session:
            wait = self.charge(session, key, now)
            session.commit()
        return wait
