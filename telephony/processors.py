"""The phone's two small processors around the voice agent.

    [transport.input(), PhoneKeysProcessor, VoiceAgentProcessor, PlaybackProcessor, transport.output()]

`PhoneKeysProcessor` lets any key cut the bot short and takes the keys the agent does not use (star: object
to the transcript; hash: hear the language menu again). `PlaybackProcessor` tells the call what happened (replies, caller speech, barge-in, the
caller hanging up) and turns "act when this has been heard" into a Twilio mark placed behind the audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pipecat.frames.frames import (
    DataFrame,
    Frame,
    InputDTMFFrame,
    InterimTranscriptionFrame,
    InterruptionFrame,
    TranscriptionFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from pipeline.dialogue import Reply
from pipeline.processors import HotlineReplyFrame
from telephony.protocol import CallerHungUpFrame, PlaybackMarkFrame, mark_frame

PHONE_KEYS = ("*", "#")


@dataclass
class MarkAfterPlayback(DataFrame):
    """Queued behind audio: when it reaches the output side, a Twilio mark with this name follows the audio."""

    mark: str = ""


class CallEvents(Protocol):
    def bot_speaking(self) -> bool: ...

    def on_key(self, key: str, interrupting: bool) -> None: ...

    def on_reply(self, reply: Reply) -> None: ...

    def on_caller_activity(self) -> None: ...

    def on_interrupted(self) -> None: ...

    def on_played(self, mark: str) -> None: ...

    def on_hang_up(self) -> None: ...


class PhoneKeysProcessor(FrameProcessor):
    def __init__(self, call: CallEvents) -> None:
        super().__init__()
        self.call = call

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputDTMFFrame) and frame.button is not None:
            # Any key stops the bot talking, as speaking over it does; digits then go on to the agent's menu.
            key = str(frame.button.value)
            interrupting = self.call.bot_speaking()
            self.call.on_key(key, interrupting)
            if interrupting:
                await self.broadcast_interruption()
            if key in PHONE_KEYS:
                return
        await self.push_frame(frame, direction)


class PlaybackProcessor(FrameProcessor):
    def __init__(self, call: CallEvents, stream_sid: str) -> None:
        super().__init__()
        self.call = call
        self.stream_sid = stream_sid

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, MarkAfterPlayback):
            await self.push_frame(mark_frame(self.stream_sid, frame.mark))
            return
        if isinstance(frame, PlaybackMarkFrame):
            self.call.on_played(frame.mark)
            return
        if isinstance(frame, CallerHungUpFrame):
            self.call.on_hang_up()
            return
        if isinstance(frame, HotlineReplyFrame):
            self.call.on_reply(frame.reply)
        elif isinstance(frame, (TranscriptionFrame, InterimTranscriptionFrame)):
            self.call.on_caller_activity()
        elif isinstance(frame, InterruptionFrame) and direction == FrameDirection.DOWNSTREAM:
            self.call.on_interrupted()
        await self.push_frame(frame, direction)
