"""What a call leaves behind: typed records, written as they happen to whatever `TranscriptSink` is wired in.

The pipeline knows only this protocol; `review.store.TranscriptStore` implements it on a real database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

CHANNELS = ("phone", "widget", "cli", "api")
# How a turn's speaking ended. A turn is stored when its reply is decided (ending None: still speaking, or the
# process died while it spoke) and stored again with one of these when the speaking is over.
ENDINGS = ("played", "barged_in", "hung_up", "failed")


@dataclass(frozen=True)
class SourceRecord:
    title: str
    url: str


@dataclass(frozen=True)
class TurnRecord:
    """One exchange: what the caller said and what the hotline answered, with timings in milliseconds."""

    index: int  # 0, 1, 2... within the call
    at: datetime  # when the caller finished speaking (aware)
    # What the caller said and what they heard never show in a repr: a record that reaches a log or a traceback
    # must not carry them there.
    transcript: str = field(repr=False)  # the final transcript (or typed text)
    language: str  # the language answered in
    action: str  # answer, clarify, transfer, closed, goodbye
    answer: str = field(repr=False)  # the text spoken
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
    ending: str | None = None  # one of ENDINGS once the speaking is over


@dataclass(frozen=True)
class CallRecord:
    call_id: str
    channel: str  # one of CHANNELS
    started_at: datetime
    caller_number: str | None = field(default=None, repr=False)  # only with the caller's consent
    language: str | None = None


@dataclass(frozen=True)
class CallbackRequest:
    call_id: str
    language: str
    question: str = field(repr=False)
    created_at: datetime
    number: str | None = field(default=None, repr=False)  # only with consent
    name: str | None = field(default=None, repr=False)
    email: str | None = field(default=None, repr=False)


class TranscriptSink(Protocol):
    """Every write is idempotent: a turn is keyed by call and index (a later write replaces it), a status by
    call, status and time, a callback by its content; so a write replayed after an outage never duplicates."""

    def start_call(self, call: CallRecord) -> None: ...

    def add_turn(self, call_id: str, turn: TurnRecord) -> None: ...

    def end_call(self, call_id: str, ended_at: datetime, outcome: str) -> None: ...

    def add_callback(self, request: CallbackRequest) -> int: ...

    def add_status(self, call_id: str, status: str, at: datetime) -> None: ...

    def forget_transcript(self, call_id: str) -> None:
        """The caller objected: delete the call's turns written so far (the call itself, its statuses and a
        callback they asked for stay)."""
        ...
