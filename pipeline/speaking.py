"""The bot's voice in one call: answer audio from the cache or synthesised live, and knowing when it talks.

The channel plays what it is given in real time, so the speaker keeps `speaking_until` (when the audio sent
so far will have finished playing): the caller who speaks before then is barging in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from voice.answer_audio import AnswerAudioCache
from voice.audio import Audio
from voice.tts import Synthesizer, sentences


class Speaker:
    def __init__(self, answers: AnswerAudioCache, synthesizer: Synthesizer, rate: int) -> None:
        self.answers = answers
        self.synthesizer = synthesizer
        self.rate = rate
        self.speaking_until = 0.0  # monotonic time when the audio already sent will have finished playing
        self.interruptions = 0  # bumped on barge-in: answers still being synthesised stop delivering audio

    def is_speaking(self) -> bool:
        return time.monotonic() < self.speaking_until

    def interrupt(self) -> None:
        self.speaking_until = 0.0
        self.interruptions += 1

    def played(self, audio: Audio) -> None:
        """`audio` was handed to the channel: it plays after whatever is still queued."""
        self.speaking_until = max(self.speaking_until, time.monotonic()) + audio.seconds

    async def chunks(self, text: str, language: str, curated: bool = True) -> AsyncIterator[Audio]:
        """Cached audio when the text was rendered ahead; otherwise live, sentence by sentence, so the first
        sentence plays while the next is synthesised. A curated answer spoken live is cached afterwards."""
        cached = await asyncio.to_thread(self.answers.cached, text, language, self.rate)
        if cached is not None:
            yield cached
            return
        native = []
        for sentence in sentences(text):
            audio = await asyncio.to_thread(self.synthesizer.speak, sentence, language)
            native.append(audio)
            yield await asyncio.to_thread(audio.at_rate, self.rate)
        if curated and native:
            await asyncio.to_thread(self.answers.store, text, language, native)

    async def whole(self, text: str, language: str) -> Audio:
        """All of `text` as one clip (a greeting, a fixed phrase), counted as played."""
        parts = [chunk async for chunk in self.chunks(text, language)]
        audio = Audio.concat(parts, self.rate)
        self.played(audio)
        return audio
