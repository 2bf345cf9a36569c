"""A token bucket per caller (device token, else client address), in process memory.

Good enough to stop a runaway client or someone guessing enrollment codes; not a shared quota. With N worker
processes or replicas each keeps its own buckets, so the effective limit is up to N times the setting (and a load
balancer that spreads one client's requests makes it so). A deployment that needs one shared limit puts it in the
reverse proxy (nginx `limit_req`), which docs/deploy-central.md shows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`allow(key)` is called from the event loop only, so it needs no lock."""

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
