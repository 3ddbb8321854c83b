"""The call's records as the caller agreed to them.

The phone number from the webhook is kept only in a callback request (the caller said yes to being called
back), never on the call itself; a caller who presses the star key to object keeps their turns out of the
transcript from then on.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from pipeline.records import CallbackRequest, CallRecord, TranscriptSink, TurnRecord


class ConsentedRecords:
    """A `TranscriptSink` in front of the real one, for one call."""

    def __init__(self, sink: TranscriptSink) -> None:
        self._sink = sink
        self.objected = False

    def object(self) -> None:
        self.objected = True

    def start_call(self, call: CallRecord) -> None:
        self._sink.start_call(replace(call, caller_number=None))

    def add_turn(self, call_id: str, turn: TurnRecord) -> None:
        if not self.objected:
            self._sink.add_turn(call_id, turn)

    def end_call(self, call_id: str, ended_at: datetime, outcome: str) -> None:
        self._sink.end_call(call_id, ended_at, f"{outcome} (transcript objected)" if self.objected else outcome)

    def add_callback(self, request: CallbackRequest) -> int:
        return self._sink.add_callback(request)  # asked for in so many words: the number is given with consent

    def add_status(self, call_id: str, status: str, at: datetime) -> None:
        self._sink.add_status(call_id, status, at)
