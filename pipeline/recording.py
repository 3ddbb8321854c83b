"""What one call leaves behind: the call, its turns and callback requests, written to the transcript sink.

The store can fail (a database outage); a failed write is logged with the call id and the turn number only,
never with what the caller said.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from pipeline.dialogue import Reply
from pipeline.observers import CallObserver, NoObserver
from pipeline.records import CallbackRequest, CallRecord, SourceRecord, TranscriptSink, TurnRecord
from voice.stt import Transcript

log = logging.getLogger("hotline.call")


class Recorder:
    def __init__(self, sink: TranscriptSink | None, call_id: str, channel: str,
                 clock: Callable[[], datetime], observer: CallObserver | None = None) -> None:
        self.sink = sink
        self.observer = observer or NoObserver()
        self.call_id = call_id
        self.channel = channel
        self.clock = clock
        self.turns = 0
        self.last: TurnRecord | None = None
        self.started = False

    async def start(self, language: str | None) -> None:
        self.started = True
        self.observer.call_started(self.channel)
        if self.sink:
            # The caller's number is kept only in a callback request they agreed to, never on the call.
            record = CallRecord(self.call_id, self.channel, self.clock(), None, language)
            await asyncio.to_thread(self.sink.start_call, record)

    async def end(self, outcome: str) -> None:
        if self.started:
            self.observer.call_ended(self.channel, outcome)
        else:  # it ended before it began (the pipeline failed at once): counted, but never active
            self.observer.call_refused(self.channel, outcome)
        if self.sink:
            await asyncio.to_thread(self.sink.end_call, self.call_id, self.clock(), outcome)

    def next_index(self) -> int:
        """The number of the turn whose reply was just decided: turns are numbered in the order they were
        answered, not in the order their speaking ends (a short answer may finish before a long one)."""
        index = self.turns
        self.turns += 1
        return index

    async def turn(self, index: int, reply: Reply, transcript: Transcript | None, error: str | None,
                   cut: bool) -> TurnRecord:
        turn = TurnRecord(
            index=index, at=self.clock(), transcript=reply.question, language=reply.language,
            action=reply.action, answer=reply.answer,
            detected_language=transcript.language if transcript else None,
            language_confidence=transcript.language_probability if transcript else None,
            topic=reply.topic, sources=tuple(SourceRecord(s.title, s.url) for s in reply.sources),
            confidence=reply.confidence, intent=reply.intent, unanswered=reply.unanswered,
            error=error or ("turn cut at the maximum length" if cut else None),
            timings_ms=dict(reply.timings_ms),
        )
        self.last = turn
        self.observer.turn_recorded(self.channel, turn)
        if error:
            self.observer.error("dialogue" if reply.intent == "error" else "speech")
        await self._write(turn, "store turn")
        return turn

    async def barge_in(self) -> None:
        """The caller spoke over the last answer."""
        if self.last:
            self.last = replace(self.last, barge_in=True)
            await self._write(self.last, "mark barge-in on turn")

    def callback(self, request: CallbackRequest) -> None:
        if self.sink:
            self.sink.add_callback(request)

    async def _write(self, turn: TurnRecord, what: str) -> None:
        if not self.sink:
            return
        try:
            await asyncio.to_thread(self.sink.add_turn, self.call_id, turn)
        except Exception as exc:  # noqa: BLE001 - any store fault; the call goes on
            self.observer.error("store")
            log.error("call %s: could not %s %d (%s)", self.call_id, what, turn.index, type(exc).__name__)
