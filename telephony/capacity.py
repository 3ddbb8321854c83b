"""How many calls the bot takes at once: more would make every caller wait for the shared models.

A slot is held from the voice webhook (when we promise Twilio a media stream) until the stream ends. A
promise that is never kept (the caller hung up during the ring) expires with the stream token. The slot also
keeps the caller's number from the signed webhook, so the stream token need not carry it.

`SeenCalls` remembers which calls were already given a stream, so a captured voice webhook replayed later gets
no second one.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

log = logging.getLogger("hotline.twilio")


class CallSlots:
    def __init__(self, limit: int, hold_s: float, now: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.hold_s = hold_s  # how long a promised stream keeps its slot before it connects
        self._now = now
        self._promised: dict[str, float] = {}  # call SID -> deadline
        self._live: set[str] = set()
        self._numbers: dict[str, str] = {}  # call SID -> the caller's number, while the slot is held

    def reserve(self, call_sid: str, caller_number: str | None = None) -> bool:
        """Promise a stream to this call if a slot is free (a call already holding one keeps it)."""
        self._expire()
        if call_sid in self._promised or call_sid in self._live:
            return True
        if self.in_use >= self.limit:
            return False
        self._promised[call_sid] = self._now() + self.hold_s
        if caller_number:
            self._numbers[call_sid] = caller_number
        return True

    def caller_number(self, call_sid: str) -> str | None:
        return self._numbers.get(call_sid)

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
        self._numbers.pop(call_sid, None)

    @property
    def in_use(self) -> int:
        return len(self._live) + len(self._promised)

    def _expire(self) -> None:
        now = self._now()
        for sid in [sid for sid, deadline in self._promised.items() if deadline < now]:
            del self._promised[sid]
            self._numbers.pop(sid, None)


class SeenCalls:
    """Call SIDs that were given a stream by the voice webhook. Twilio's signature has no timestamp, so a captured
    webhook stays valid forever; remembering the SID is what stops a replay from taking a line. The memory is this
    instance's (bounded; the oldest are forgotten first) and, when `known` is given, the store's record of calls,
    which every instance shares."""

    def __init__(self, capacity: int = 100_000, known: Callable[[str], bool] | None = None) -> None:
        self.capacity = capacity
        self._known = known
        self._seen: OrderedDict[str, None] = OrderedDict()

    def first_time(self, call_sid: str) -> bool:
        """True once per call SID: the first voice webhook for it; afterwards False."""
        if call_sid in self._seen or self._in_store(call_sid):
            return False
        self._seen[call_sid] = None
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return True

    def _in_store(self, call_sid: str) -> bool:
        if self._known is None:
            return False
        try:
            return self._known(call_sid)
        except Exception as exc:  # noqa: BLE001 - a store outage must not keep real callers out
            log.warning("call %s: could not ask the store whether the call is known (%s)", call_sid,
                        type(exc).__name__)
            return False
