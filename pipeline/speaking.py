"""The bot's voice in one call: answer audio from the cache or synthesised live, and knowing when it talks.

The channel plays what it is given in real time, so the speaker keeps `speaking_until` (when the audio sent
so far will have finished playing): the caller who speaks before then is barging in.

An answer whose voice fails raises (the agent then apologises); a fixed sentence (`whole`: the apology, a
prompt, the goodbye) falls back to a second voice, espeak-ng by default, so the way out of a fault is heard.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from voice.answer_audio import AnswerAudioCache
from voice.audio import Audio
from voice.threads import in_synthesis_thread
from voice.tts import Synthesizer, TtsError, sentences

log = logging.getLogger("hotline.call")


class Speaker:
    def __init__(self, answers: AnswerAudioCache, synthesizer: Synthesizer, rate: int,
                 fallback: Synthesizer | None = None) -> None:
        self.answers = answers
        self.synthesizer = synthesizer
        self.fallback = fallback
        self.rate = rate
        self.speaking_until = 0.0  # monotonic time when the audio already sent will have finished playing
        self.interruptions = 0  # bumped on barge-in: answers still being synthesised stop delivering audio
        self.confirmations = 0  # bumped when the channel reports everything sent so far was heard
        self._cut = asyncio.Event()  # set (and replaced) on each interruption or confirmation

    def is_speaking(self) -> bool:
        return time.monotonic() < self.speaking_until

    def interrupt(self) -> None:
        self.speaking_until = 0.0
        self.interruptions += 1
        self._cut.set()
        self._cut = asyncio.Event()

    def confirm(self) -> None:
        """The channel reports that the audio sent so far has been heard (Twilio echoed a mark behind it)."""
        self.confirmations += 1
        self._cut.set()
        self._cut = asyncio.Event()

    async def until(self, moment: float, interrupted_at: int) -> bool:
        """Wait until `moment` (monotonic), or a confirmation that it was heard: True when that came with no
        interruption since `interrupted_at`."""
        confirmed_at = self.confirmations
        while self.interruptions == interrupted_at:
            remaining = moment - time.monotonic()
            if remaining <= 0 or self.confirmations != confirmed_at:
                return True
            cut = self._cut
            try:
                await asyncio.wait_for(cut.wait(), remaining)
            except TimeoutError:
                pass
        return False

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
            audio = await in_synthesis_thread(self.synthesizer.speak, sentence, language)
            native.append(audio)
            yield await asyncio.to_thread(audio.at_rate, self.rate)
        if curated and native:
            await asyncio.to_thread(self.answers.store, text, language, native)

    async def whole(self, text: str, language: str) -> Audio:
        """All of `text` as one clip (a greeting, a fixed phrase), counted as played; in the fallback voice
        when the configured one fails."""
        try:
            parts = [chunk async for chunk in self.chunks(text, language)]
        except Exception as exc:
            if self.fallback is None:
                raise
            log.warning("the %s voice failed (%s); speaking with the fallback voice", language, fault_name(exc))
            parts = [await self.in_fallback_voice(text, language)]
        audio = Audio.concat(parts, self.rate)
        self.played(audio)
        return audio

    async def urgent(self, text: str, language: str) -> Audio:
        """Something to say at once, counted as played (the apology for a fault): its rendering in the
        configured voice if the cache has it, else the fallback voice now, since the configured one may be what
        broke, and is slow to speak live (`hotline serve` renders the fixed sentences ahead)."""
        cached = await asyncio.to_thread(self.answers.cached, text, language, self.rate)
        if cached is not None:
            audio = cached
        elif self.fallback is not None:
            audio = await self.in_fallback_voice(text, language)
        else:
            audio = Audio.concat([chunk async for chunk in self.chunks(text, language)], self.rate)
        self.played(audio)
        return audio

    async def in_fallback_voice(self, text: str, language: str) -> Audio:
        assert self.fallback is not None
        audio = await in_synthesis_thread(self.fallback.speak, text, language)
        return await asyncio.to_thread(audio.at_rate, self.rate)


def fault_name(exc: BaseException) -> str:
    """What to log and record of a voice fault: our own messages (they name a voice or a file) in full, any
    other exception by its type only, since its message might quote the text being spoken."""
    return f"TtsError: {exc}" if isinstance(exc, TtsError) else type(exc).__name__
