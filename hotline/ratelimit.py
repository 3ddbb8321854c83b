"""Requests per client address: a token bucket each, forgotten once it has filled up again.

>>> asks = AddressRateLimit(per_min=30, burst=10)
>>> asks.retry_after("203.0.113.9")  # None: go ahead; else the seconds to wait
"""

from __future__ import annotations

import time
from collections.abc import Callable

from telephony.widget.limits import TokenBucket

# A flood from many addresses must not grow the table without end: past this many, full buckets are
# dropped (a full bucket is the same as no bucket).
TRACKED_ADDRESSES = 10_000


class AddressRateLimit:
    def __init__(self, per_min: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_min = per_min
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def retry_after(self, address: str) -> float | None:
        """None when `address` may make one more request now (it is counted); else the seconds until it may."""
        bucket = self._buckets.get(address)
        if bucket is None:
            if len(self._buckets) >= TRACKED_ADDRESSES:
                self._forget_full()
            bucket = self._buckets[address] = TokenBucket(self.per_min / 60, self.burst, self.clock)
        if bucket.take():
            return None
        return bucket.wait_s()

    def _forget_full(self) -> None:
        for address in [a for a, bucket in self._buckets.items() if bucket.full]:
            del self._buckets[address]
