"""How much one browser session may send: token buckets on messages, audio bytes and typed questions."""

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
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if amount > self._tokens:
            return False
        self._tokens -= amount
        return True


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
