"""What one call leaves behind: the call, its turns and callback requests, written to the transcript sink.

A turn is written twice: when its reply is decided (transcript, answer, sources, timings so far) and again
when its speaking ends (played, barged in, hung up, failed), so the record never depends on the caller
staying on the line. Writes leave the call's event loop at once and reach the sink in the order they were
made, one after the other, from a worker task: a slow store never delays an answer. A failed write is logged
with the call id and the turn number only, never with what the caller said.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

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
        self.started = False
        self.call_id = call_id
        self.channel = channel
        self.clock = clock
        self.turns = 0
        self.records: dict[int, TurnRecord] = {}  # the latest version of each turn, by index
        self._writes: asyncio.Queue[tuple[str, Callable[[], Any]]] | None = None
        self._writer: asyncio.Task[None] | None = None

    async def start(self, language: str | None) -> None:
        self.started = True
        self.observer.call_started(self.channel)
        # The caller's number is kept only in a callback request they agreed to, never on the call.
        record = CallRecord(self.call_id, self.channel, self.clock(), None, language)
        self._write("record the call's start", lambda sink: sink.start_call(record))

    async def end(self, outcome: str) -> None:
        if self.started:
            self.observer.call_ended(self.channel, outcome)
        else:  # it ended before it began (the pipeline failed at once): counted, but never active
            self.observer.call_refused(self.channel, outcome)
        ended = self.clock()
        self._write("complete the call record", lambda sink: sink.end_call(self.call_id, ended, outcome))
        await self.flush()
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None

    async def flush(self) -> None:
        """Until every write made so far has reached the sink (or failed)."""
        if self._writes is not None:
            await self._writes.join()

    def next_index(self) -> int:
        """The number of the turn whose reply was just decided: turns are numbered in the order they were
        answered, not in the order their speaking ends (a short answer may finish before a long one)."""
        index = self.turns
        self.turns += 1
        return index

    def decided(self, index: int, reply: Reply, transcript: Transcript | None, error: str | None,
                cut: bool) -> TurnRecord:
        """The reply is decided: the turn goes to the store now, before a word of it is spoken."""
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
        self._store(turn)
        return turn

    def ended(self, index: int, ending: str, timings_ms: dict[str, float] | None = None,
              error: str | None = None) -> TurnRecord | None:
        """The turn's speaking is over: store how it ended, the timings measured while speaking, a fault."""
        turn = self.records.get(index)
        if turn is None:
            return None
        turn = replace(turn, ending=ending, barge_in=turn.barge_in or ending == "barged_in",
                       error=turn.error or error,
                       timings_ms={**turn.timings_ms, **(timings_ms or {})})
        self._store(turn)
        # Counted once, when its timings are complete (the first answer audio is measured while speaking).
        self.observer.turn_recorded(self.channel, turn)
        if turn.error:
            self.observer.error("dialogue" if turn.intent == "error" else "speech")
        return turn

    def note_error(self, error: str) -> None:
        """A fault after the last turn was spoken (its transfer failed, say): kept with that turn."""
        if self.records:
            turn = self.records[max(self.records)]
            self._store(replace(turn, error=f"{turn.error}; {error}" if turn.error else error))

    def callback(self, request: CallbackRequest) -> None:
        self._write("store the callback request", lambda sink: sink.add_callback(request))

    def _store(self, turn: TurnRecord) -> None:
        self.records[turn.index] = turn
        self._write(f"store turn {turn.index}", lambda sink: sink.add_turn(self.call_id, turn))

    def _write(self, what: str, write: Callable[[TranscriptSink], Any]) -> None:
        sink = self.sink
        if sink is None:
            return
        if self._writes is None:
            self._writes = asyncio.Queue()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._drain(), name=f"{self.call_id} records")
        self._writes.put_nowait((what, lambda: write(sink)))

    async def _drain(self) -> None:
        assert self._writes is not None
        while True:
            what, write = await self._writes.get()
            try:
                await asyncio.to_thread(write)
            except Exception as exc:  # noqa: BLE001 - any store fault; the call goes on
                self.observer.error("store")
                log.error("call %s: could not %s (%s)", self.call_id, what, type(exc).__name__)
            finally:
                self._writes.task_done()
