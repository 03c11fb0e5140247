"""Per-person rate limits for the channels: a token bucket per conversation.

A person may send a burst of `burst` messages, then `per_minute` a minute. What happens past that is the
channel's choice, and neither drops the message: the web chat answers 429 with Retry-After and the page sends
again after that wait; Telegram waits that long before handling the message (and says so once), because a
Telegram update cannot be refused and asked again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

# Buckets of people who stopped writing are forgotten once there are this many (a full bucket holds no state).
MAX_BUCKETS = 10_000


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, burst: int, per_minute: float, clock: Callable[[], float] = time.monotonic) -> None:
        if burst < 1 or per_minute <= 0:
            raise ValueError("a rate limit needs burst >= 1 and per_minute > 0")
        self.burst = float(burst)
        self.rate = per_minute / 60.0  # tokens per second
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        return bucket

    def try_acquire(self, key: str) -> float:
        """Take one message's token: 0.0 if it may go now, else the seconds until it may (nothing taken)."""
        bucket = self._refilled(key, self.clock())
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def reserve(self, key: str) -> float:
        """Take one message's token even if that means waiting: the seconds to wait before handling it (0.0 if
        none). Messages reserved one after another get later and later turns, so each is handled in order."""
        bucket = self._refilled(key, self.clock())
        bucket.tokens -= 1.0
        return 0.0 if bucket.tokens >= 0.0 else -bucket.tokens / self.rate

    def _forget_full(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if b.tokens + (now - b.at) * self.rate >= self.burst]:
            del self._buckets[key]
