"""How many calls the bot takes at once: more would make every caller wait for the shared models.

A slot is held from the voice webhook (when we promise Twilio a media stream) until the stream ends. A
promise that is never kept (the caller hung up during the ring) expires with the stream token.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class CallSlots:
    def __init__(self, limit: int, hold_s: float, now: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.hold_s = hold_s  # how long a promised stream keeps its slot before it connects
        self._now = now
        self._promised: dict[str, float] = {}  # call SID -> deadline
        self._live: set[str] = set()

    def reserve(self, call_sid: str) -> bool:
        """Promise a stream to this call if a slot is free (a call already holding one keeps it)."""
        self._expire()
        if call_sid in self._promised or call_sid in self._live:
            return True
        if self.in_use >= self.limit:
            return False
        self._promised[call_sid] = self._now() + self.hold_s
        return True

    def connect(self, call_sid: str) -> bool:
        """The promised stream arrived; False if there was no promise (or it expired) or one is already live."""
        self._expire()
        if call_sid in self._live or self._promised.pop(call_sid, None) is None:
            return False
        self._live.add(call_sid)
        return True

    def release(self, call_sid: str) -> None:
        self._live.discard(call_sid)
        self._promised.pop(call_sid, None)

    @property
    def in_use(self) -> int:
        return len(self._live) + len(self._promised)

    def _expire(self) -> None:
        now = self._now()
        for sid in [sid for sid, deadline in self._promised.items() if deadline < now]:
            del self._promised[sid]
