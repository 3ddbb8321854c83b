"""How much one browser session may send (token buckets on messages, audio bytes and typed questions), and how
many sessions the server and one client address may hold at once."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from telephony.widget.config import WidgetConfig


class LimitExceeded(Exception):
    """A session sent more than it may; the message says which limit (it is shown to the visitor)."""

    def __init__(self, code: str, message: str, *, fatal: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.fatal = fatal  # True: the session is closed; False: the one request is refused


@dataclass
class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; `take(n)` is False when they are not there."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    _tokens: float = field(init=False)
    _at: float = field(init=False)

    def __post_init__(self) -> None:
        self._tokens = self.burst
        self._at = self.clock()

    def take(self, amount: float = 1.0) -> bool:
        self._refill()
        if amount > self._tokens:
            return False
        self._tokens -= amount
        return True

    def wait_s(self, amount: float = 1.0) -> float:
        """Seconds until `take(amount)` would succeed (0 if it would now)."""
        self._refill()
        return max(0.0, (amount - self._tokens) / self.rate)

    @property
    def full(self) -> bool:
        self._refill()
        return self._tokens >= self.burst

    def _refill(self) -> None:
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now


class SessionCount:
    """The sockets open now, in all and per client address; `claim` says why one more may not open."""

    def __init__(self, total: int, per_address: int) -> None:
        self.total = total
        self.per_address = per_address
        self._by_address: dict[str, int] = {}

    def __len__(self) -> int:
        return sum(self._by_address.values())

    def claim(self, address: str) -> LimitExceeded | None:
        """Count one more socket from `address`, or the reason it is refused (nothing is counted then)."""
        if len(self) >= self.total:
            return LimitExceeded("busy", "too many conversations at once")
        if self._by_address.get(address, 0) >= self.per_address:
            return LimitExceeded("too_many_sessions", f"at most {self.per_address} conversations at once from "
                                                      "one address; close another one and try again")
        self._by_address[address] = self._by_address.get(address, 0) + 1
        return None

    def release(self, address: str) -> None:
        left = self._by_address.get(address, 0) - 1
        if left > 0:
            self._by_address[address] = left
        else:
            self._by_address.pop(address, None)


class SessionLimits:
    """The per-session checks of `WidgetConfig`, applied to every frame before it is parsed."""

    def __init__(self, config: WidgetConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._messages = TokenBucket(config.messages_per_s, 2 * config.messages_per_s, clock)
        self._audio = TokenBucket(config.audio_bytes_per_s, 4 * 32_000 + config.audio_bytes_per_s, clock)
        self._questions = TokenBucket(config.questions_per_min / 60, 5, clock)
        self.callbacks = 0

    def check_audio(self, size: int) -> None:
        if size > self.config.max_audio_frame_bytes:
            raise LimitExceeded("frame_too_big", f"audio frame of {size} bytes; at most "
                                                 f"{self.config.max_audio_frame_bytes} bytes per frame")
        self._message()
        if not self._audio.take(size):
            raise LimitExceeded("rate_limited", "audio arrives faster than real time")

    def check_text(self, size: int) -> None:
        if size > self.config.max_text_frame_bytes:
            raise LimitExceeded("frame_too_big", f"message of {size} bytes; at most "
                                                 f"{self.config.max_text_frame_bytes} bytes per message")
        self._message()

    def check_question(self) -> None:
        if not self._questions.take():
            raise LimitExceeded("rate_limited", "too many questions in a short time", fatal=False)

    def check_callback(self) -> None:
        if self.callbacks >= self.config.max_callbacks:
            raise LimitExceeded("callback_limit", f"at most {self.config.max_callbacks} callback requests",
                                fatal=False)
        self.callbacks += 1

    def _message(self) -> None:
        if not self._messages.take():
            raise LimitExceeded("rate_limited", "too many messages in a short time")
