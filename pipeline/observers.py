"""Who hears about calls as they happen, besides the transcript store: the metrics, for one.

The recorder reports every call's start and end and every turn record; the channels report calls they turned
away and faults. Nothing personal crosses this seam: a turn record carries the transcript, but an observer
must only count what it needs (action, language, timings), never keep or log the words.
"""

from __future__ import annotations

from typing import Protocol

from pipeline.records import TurnRecord

# The kinds of error an observer hears of (`error(kind)`), so dashboards can rely on a fixed set.
ERROR_KINDS = (
    "dialogue",  # the dialogue raised while answering a turn (the caller heard an apology)
    "speech",  # speaking an answer failed
    "store",  # a record could not be written to the transcript store
    "call_fault",  # a phone call ended in Twilio's apology (pipeline or playback fault)
    "media_refused",  # a media socket was refused (no valid token, wrong account, not promised)
    "webhook_replayed",  # a signed voice webhook for a call already given a stream
    "webhook_refused",  # a webhook without a valid signature, too large or unreadable
    "widget",  # a widget session ended on an internal error
)


class CallObserver(Protocol):
    def call_started(self, channel: str) -> None: ...

    def turn_recorded(self, channel: str, turn: TurnRecord) -> None: ...

    def call_ended(self, channel: str, outcome: str) -> None: ...

    def call_refused(self, channel: str, outcome: str) -> None:
        """A call that never started: turned away (all lines busy), or ended before it could begin."""

    def error(self, kind: str) -> None:
        """One of ERROR_KINDS happened."""


class NoObserver:
    """Nobody listening (the command line, tests that do not look)."""

    def call_started(self, channel: str) -> None:
        pass

    def turn_recorded(self, channel: str, turn: TurnRecord) -> None:
        pass

    def call_ended(self, channel: str, outcome: str) -> None:
        pass

    def call_refused(self, channel: str, outcome: str) -> None:
        pass

    def error(self, kind: str) -> None:
        pass
