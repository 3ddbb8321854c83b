"""The call's records as the caller agreed to them.

The phone number from the webhook is kept only in a callback request (the caller said yes to being called
back), never on the call itself. A caller who objects to the transcript (the star key on the phone, the
widget's "keep no transcript" switch) keeps their turns out of it from then on, and what was already written
for the call is deleted (`forget`: from the store, and from the journal of writes not yet flushed).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

from pipeline.records import CallbackRequest, CallRecord, TranscriptSink, TurnRecord

# The welcome tells callers in these languages about the transcript and the star key; callers in any other
# language hear it once their language is known (`consent_notice` in config/phrases.yaml).
NOTICE_IN_WELCOME = ("de", "en")
OBJECTED = " (transcript objected)"


class ConsentedRecords:
    """A `TranscriptSink` in front of the real one, for one call."""

    def __init__(self, sink: TranscriptSink, call_id: str) -> None:
        self._sink = sink
        self.call_id = call_id
        self.objected = False
        self.ever_objected = False
        self._seen: set[int] = set()  # turns written so far
        self._dropped: set[int] = set()  # turns spoken before or during an objection: never written again
        # A turn being written while the caller objects is either refused or written before `forget` runs.
        self._lock = threading.Lock()

    def object(self) -> None:
        """From now on nothing the caller says is kept (call `forget` next, in a worker thread)."""
        self.objected = self.ever_objected = True  # no lock: called on the event loop, must not wait on a write
        self._dropped |= self._seen

    def resume(self) -> None:
        """The visitor switched the transcript back on: turns from now on are kept again."""
        self.objected = False

    def forget(self) -> None:
        """Delete what was written of the call's transcript (blocking: a database write)."""
        with self._lock:
            self._dropped |= self._seen  # a turn written while the objection came in
            self._sink.forget_transcript(self.call_id)

    def start_call(self, call: CallRecord) -> None:
        self._sink.start_call(replace(call, caller_number=None))

    def add_turn(self, call_id: str, turn: TurnRecord) -> None:
        with self._lock:
            if self.objected or turn.index in self._dropped:
                self._dropped.add(turn.index)  # its later update (how its speaking ended) stays out too
                return
            self._seen.add(turn.index)
            self._sink.add_turn(call_id, turn)

    def end_call(self, call_id: str, ended_at: datetime, outcome: str) -> None:
        self._sink.end_call(call_id, ended_at, f"{outcome}{OBJECTED}" if self.ever_objected else outcome)

    def add_callback(self, request: CallbackRequest) -> int:
        return self._sink.add_callback(request)  # asked for in so many words: the number is given with consent

    def add_status(self, call_id: str, status: str, at: datetime) -> None:
        self._sink.add_status(call_id, status, at)

    def forget_transcript(self, call_id: str) -> None:
        self._sink.forget_transcript(call_id)
