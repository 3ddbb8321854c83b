"""What a call leaves behind: typed records, written as they happen to whatever `TranscriptSink` is wired in.

The pipeline knows only this protocol; `review.store.TranscriptStore` implements it on a real database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

CHANNELS = ("phone", "widget", "cli", "api")


@dataclass(frozen=True)
class SourceRecord:
    title: str
    url: str


@dataclass(frozen=True)
class TurnRecord:
    """One exchange: what the caller said and what the hotline answered, with timings in milliseconds."""

    index: int  # 0, 1, 2... within the call
    at: datetime  # when the caller finished speaking (aware)
    transcript: str  # the final transcript (or typed text)
    language: str  # the language answered in
    action: str  # answer, clarify, transfer, closed, goodbye
    answer: str  # the text spoken
    detected_language: str | None = None
    language_confidence: float | None = None
    topic: str | None = None
    sources: tuple[SourceRecord, ...] = ()
    confidence: float = 0.0
    intent: str | None = None
    unanswered: bool = False  # a question the hotline could not answer (a knowledge gap)
    barge_in: bool = False  # the caller spoke over this answer
    error: str | None = None  # an internal fault during this turn
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class CallRecord:
    call_id: str
    channel: str  # one of CHANNELS
    started_at: datetime
    caller_number: str | None = None  # only with the caller's consent
    language: str | None = None


@dataclass(frozen=True)
class CallbackRequest:
    call_id: str
    language: str
    question: str
    created_at: datetime
    number: str | None = None  # only with consent
    name: str | None = None
    email: str | None = None


class TranscriptSink(Protocol):
    def start_call(self, call: CallRecord) -> None: ...

    def add_turn(self, call_id: str, turn: TurnRecord) -> None: ...

    def end_call(self, call_id: str, ended_at: datetime, outcome: str) -> None: ...

    def add_callback(self, request: CallbackRequest) -> int: ...

    def add_status(self, call_id: str, status: str, at: datetime) -> None: ...
