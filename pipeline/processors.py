"""The voice agent as a pipecat processor, so the phone and the widget only add a transport and serializer.

    pipeline = Pipeline([transport.input(), VoiceAgentProcessor(agent), transport.output()])

Caller audio (`InputAudioRawFrame`) goes into the agent; its events come back out as frames: answer audio
(`OutputAudioRawFrame`), captions (`InterimTranscriptionFrame`, `TranscriptionFrame`), the decision
(`HotlineReplyFrame`) and, when the caller speaks over the bot, an interruption broadcast (which the Twilio
serializer turns into `clear`). DTMF keys choose the language.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from pipecat.frames.frames import (
    CancelFrame,
    DataFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterimTranscriptionFrame,
    OutputAudioRawFrame,
    TranscriptionFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from pipeline.dialogue import Reply
from pipeline.voice_agent import AgentEvent, VoiceAgent
from voice.audio import Audio, pcm16_to_float

log = logging.getLogger("hotline.call")
# The phone menu: 1 Deutsch, 2 English, 3 العربية, 4 Türkçe, 5 українська, 6 русский, 7 español, 8 français,
# 9 polski, 0 română (the served languages in config order).
KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0")
OUTPUT_CHUNK_S = 0.02


@dataclass
class HotlineReplyFrame(DataFrame):
    """What the dialogue decided for a turn: channels act on transfer, closed and goodbye."""

    reply: Reply


ReplyHandler = Callable[[Reply], Awaitable[None]]
LanguageHandler = Callable[[str], Awaitable[None]]


class VoiceAgentProcessor(FrameProcessor):
    def __init__(self, agent: VoiceAgent, on_reply: ReplyHandler | None = None,
                 on_language_chosen: LanguageHandler | None = None) -> None:
        """`on_language_chosen` runs after the agent has confirmed a language chosen by key (the phone tells
        the caller about the transcript in that language)."""
        super().__init__()
        self.agent = agent
        self.on_reply = on_reply
        self.on_language_chosen = on_language_chosen
        agent.on_event = self._on_event
        self._keys: set[asyncio.Task[None]] = set()
        self._key_order = asyncio.Lock()

    def language_for_key(self, key: str) -> str | None:
        languages = self.agent.services.settings.languages
        index = KEYS.index(key) if key in KEYS else -1
        return languages[index] if 0 <= index < len(languages) else None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            samples = pcm16_to_float(frame.audio)
            if frame.num_channels > 1:
                samples = samples.reshape(-1, frame.num_channels).mean(axis=1)
            if frame.sample_rate != self.agent.rate:
                samples = Audio(samples, frame.sample_rate).at_rate(self.agent.rate).samples
            try:
                await self.agent.feed(samples.astype(np.float32))
            except Exception:
                log.exception("call %s: audio processing failed", self.agent.call_id)
                await self._apologise()
            return
        if isinstance(frame, InputDTMFFrame) and frame.button is not None:
            self._on_key(str(frame.button.value))
            return
        if isinstance(frame, (CancelFrame, EndFrame)):
            for task in self._keys:
                task.cancel()
        await self.push_frame(frame, direction)

    def _on_key(self, key: str) -> None:
        """What the key means is settled now; what the agent says to it is synthesised beside the frame loop,
        not in it: a render can take seconds before the phrase is cached, and the frames behind it (a hang-up's
        CancelFrame) must not wait for it. Replies to keys still follow one another in the order pressed."""
        if key.isdigit() and 1 <= int(key) <= len(self.agent.conversation.options):
            # A choice question is open ("Do you mean A or B? Press 1 or 2"): the key answers it.
            self._reply_to_key(lambda: self.agent.text(key))
        elif key == "1" and self.agent.sms_offered:  # "...say yes or press 1": consent, not German
            self._reply_to_key(lambda: self.agent.text(key))
        elif language := self.language_for_key(key):
            self.agent.choose_language(language)
            self._reply_to_key(lambda: self._confirm_language(language))

    async def _confirm_language(self, language: str) -> None:
        await self.agent.say_phrase("language_switched")
        if self.on_language_chosen:
            await self.on_language_chosen(language)

    def _reply_to_key(self, reply: Callable[[], Awaitable[object]]) -> None:
        # The reply is made when its turn comes, not here: a hang-up may cancel the task before it starts, and a
        # coroutine made now would then never be awaited.
        task = asyncio.create_task(self._in_order(reply))
        self._keys.add(task)
        task.add_done_callback(self._keys.discard)

    async def _in_order(self, reply: Callable[[], Awaitable[object]]) -> None:
        async with self._key_order:
            try:
                await reply()
            except Exception:
                log.exception("call %s: the reply to a key failed", self.agent.call_id)
                await self._apologise()

    async def _apologise(self) -> None:
        await self.agent.say_phrase("apology_fault")

    async def _on_event(self, event: AgentEvent) -> None:
        now = datetime.now(UTC).isoformat()
        if event.kind == "barge_in":
            await self.broadcast_interruption()
        elif event.kind == "partial":
            await self.push_frame(InterimTranscriptionFrame(event.text, "caller", now))
        elif event.kind == "final":
            await self.push_frame(TranscriptionFrame(event.text, "caller", now))
        elif event.kind == "reply" and event.reply is not None:
            await self.push_frame(HotlineReplyFrame(event.reply))
            if self.on_reply:
                await self.on_reply(event.reply)
        elif event.kind == "audio" and event.audio is not None:
            await self._push_audio(event.audio)

    async def _push_audio(self, audio: Audio) -> None:
        pcm = audio.at_rate(self.agent.rate).pcm16()
        step = int(OUTPUT_CHUNK_S * self.agent.rate) * 2
        for offset in range(0, len(pcm), step):
            await self.push_frame(OutputAudioRawFrame(pcm[offset : offset + step], self.agent.rate, 1))
