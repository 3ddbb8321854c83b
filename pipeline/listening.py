"""Turn-taking for one call: where the caller's turn starts and ends, and what they said.

Latency: when the caller pauses briefly, the words are transcribed at once (speculatively, together with
whatever else the owner wants done early, such as the knowledge search); if the pause becomes the end of
the turn, the transcript is already there; if the caller goes on, the early work is dropped.

At the end-of-turn silence a turn model (Smart Turn, `voice.turn`), started already at the short pause, says
whether the caller has finished; a caller still looking for a word gets the longer `unfinished_silence_ms`.

Every transcription waits in the shared `RecognitionQueue` at the call's priority (phone before widget);
captions wait last and are skipped when their queue is full.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import numpy as np

from pipeline.recognition import CAPTION, PHONE, RecognitionBusy, RecognitionQueue
from voice.audio import Audio
from voice.stt import Transcriber, Transcript
from voice.turn import SmartTurn
from voice.vad import EndpointConfig, Endpointer, TurnEvent, make_detector

log = logging.getLogger("hotline.call")
Prefetch = Callable[[Transcript], None]  # runs in the worker thread right after a speculative transcript
Language = Callable[[], str | None]  # the call's language now (a hint for the recogniser)
VERDICT_WAIT_S = 1.0  # a turn model slower than this (a machine under load) leaves the decision to the silence


@dataclass(frozen=True)
class Heard:
    kind: str  # "started": the caller began to speak; "utterance": a finished turn, transcribed
    transcript: Transcript | None = None
    speech_end: float = 0.0  # monotonic time when the caller stopped speaking
    cut: bool = False  # the turn was cut at the maximum length


class Listener:
    def __init__(self, transcriber: Transcriber, vad: str, rate: int, endpoint: EndpointConfig,
                 language: Language, prefetch: Prefetch | None = None,
                 on_partial: Callable[[str], Awaitable[None]] | None = None, partial_every_s: float = 0.0,
                 recognition: RecognitionQueue | None = None, priority: str = PHONE,
                 turn_model: SmartTurn | None = None) -> None:
        """`on_partial` with `partial_every_s` > 0: live captions while the caller speaks (the widget shows them;
        on the phone they would only cost CPU). `recognition`: the queue shared by all calls (without one, this
        call has a queue of its own); `priority`: the channel's place in it (`pipeline.recognition`). `turn_model`:
        judges whether a pause ends the turn (without one, silence alone does)."""
        self.transcriber = transcriber
        self.recognition = recognition or RecognitionQueue()
        self.priority = priority
        self.rate = rate
        self.turn_model = turn_model
        self.endpointer = Endpointer(make_detector(vad, rate), replace(endpoint, judged=turn_model is not None))
        self.language = language
        self.prefetch = prefetch
        self.on_partial = on_partial
        self.partial_every_s = partial_every_s
        self._speculation: tuple[int, asyncio.Future[Transcript | None], threading.Event] | None = None
        self._caption: asyncio.Future[Transcript | None] | None = None
        self._captioned_s = 0.0
        self._verdict: tuple[int, asyncio.Future[bool]] | None = None  # turn model on the pause (audio length)
        self.recognising = 0  # caller turns over, their transcripts not ready yet

    async def feed(self, samples: np.ndarray) -> list[Heard]:
        arrived = time.monotonic()
        heard = await self._heard(self.endpointer.feed(samples), arrived)
        self._maybe_caption()
        return heard

    async def _heard(self, events: list[TurnEvent], arrived: float) -> list[Heard]:
        heard: list[Heard] = []
        while events:
            turn = events.pop(0)
            if turn.kind == "quiet" and turn.audio is not None:
                # The Endpointer reads no further until it knows whether this silence ends the turn.
                events += self.endpointer.decide(await self._finished(turn.audio))
            elif h := await self._on_turn_event(turn, arrived):
                heard.append(h)
        return heard

    async def flush(self) -> list[Heard]:
        """The audio stream ended (a file, a closed socket): finish a turn still open."""
        arrived = time.monotonic()
        return await self._heard(self.endpointer.flush(), arrived)

    async def _on_turn_event(self, turn: TurnEvent, arrived: float) -> Heard | None:
        if turn.kind == "started":
            self._drop_speculation()
            return Heard("started")
        if turn.kind == "resumed":
            self._drop_speculation()
            return None
        if turn.kind == "paused" and turn.audio is not None:
            self._judge_early(turn.audio)
            dropped = threading.Event()
            audio = turn.audio
            try:
                early = self.recognition.submit(self.priority, lambda: self._transcribe_early(audio, dropped),
                                                still_wanted=lambda: not dropped.is_set())
            except RecognitionBusy:
                return None  # early work only: the end of the turn asks again (and meets the fault)
            assert early is not None
            task = asyncio.wrap_future(early)
            self._speculation = (len(turn.audio.samples), task, dropped)
            task.add_done_callback(self._partial_ready)
            return None
        if turn.kind == "ended" and turn.audio is not None:
            # The turn ended this long before the chunk that revealed it arrived (the end-of-turn silence).
            speech_end = arrived - (self.endpointer.position_s - turn.at_s)
            transcript = await self._final_transcript(turn.audio)
            return Heard("utterance", transcript, speech_end, turn.cut)
        return None

    # --- speculation ---------------------------------------------------------------------------------
    def _transcribe(self, audio: Audio, still_wanted: Callable[[], bool] | None = None) -> Transcript:
        return self.transcriber.transcribe(audio, self.language(), still_wanted)

    def _transcribe_early(self, audio: Audio, dropped: threading.Event) -> Transcript:
        transcript = self._transcribe(audio, still_wanted=lambda: not dropped.is_set())
        if transcript.text and self.prefetch and not dropped.is_set():
            try:
                self.prefetch(transcript)
            except Exception:  # early work only: the turn's own work meets (and reports) the fault
                log.debug("speculative work failed", exc_info=True)
        return transcript

    def _drop_speculation(self) -> None:
        if self._verdict:
            self._verdict[1].cancel()
            self._verdict = None
        if self._speculation:
            # The thread cannot be stopped once Whisper runs, but one still queued for a worker is skipped.
            self._speculation[2].set()
            self._speculation[1].cancel()
            self._speculation = None

    def _covers(self, early_samples: int, audio: Audio) -> bool:
        """Work done early on `early_samples` of the turn still stands for `audio` (at most 200 ms more)."""
        return early_samples >= len(audio.samples) - self.rate // 5

    # --- has the caller finished? --------------------------------------------------------------------
    def _judge_early(self, audio: Audio) -> None:
        if self.turn_model and self.turn_model.hears(self.language()):
            self._verdict = (len(audio.samples), self.turn_model.judge(audio))

    async def _finished(self, audio: Audio) -> bool | None:
        """The turn model's verdict on the turn so far; None (the silence decides) for a language it does not
        know, or when it fails or is too slow."""
        if not (self.turn_model and self.turn_model.hears(self.language())):
            return None
        verdict, self._verdict = self._verdict, None
        if not verdict or not self._covers(verdict[0], audio):
            if verdict:
                verdict[1].cancel()
            verdict = (len(audio.samples), self.turn_model.judge(audio))
        try:
            return await asyncio.wait_for(asyncio.shield(verdict[1]), VERDICT_WAIT_S)
        except TimeoutError:
            log.info("the turn model took over %.1f s; the silence ends the turn", VERDICT_WAIT_S)
        except Exception:
            log.warning("the turn model failed; the silence ends the turn", exc_info=True)
        return None

    async def _final_transcript(self, audio: Audio) -> Transcript:
        self.recognising += 1
        try:
            return await self._recognise(audio)
        finally:
            self.recognising -= 1

    async def _recognise(self, audio: Audio) -> Transcript:
        speculation, self._speculation = self._speculation, None
        if speculation and self._covers(speculation[0], audio):
            try:
                early = await speculation[1]
                if early is not None:
                    return early
            except asyncio.CancelledError:
                pass
        transcript = await self.recognition.run(self.priority, lambda: self._transcribe(audio))
        assert transcript is not None  # only captions are skipped
        return transcript

    # --- live captions -------------------------------------------------------------------------------
    def _maybe_caption(self) -> None:
        """While the caller speaks, transcribe the turn so far now and then for live captions."""
        if not (self.on_partial and self.partial_every_s) or (self._caption and not self._caption.done()):
            return
        audio = self.endpointer.current_audio()
        if audio is None:
            self._captioned_s = 0.0
            return
        if audio.seconds - self._captioned_s < self.partial_every_s:
            return
        self._captioned_s = audio.seconds
        caption = self.recognition.submit(CAPTION, lambda: self._transcribe(audio))
        if caption is None:
            return  # the recogniser is busy with turns: this caption is skipped, the next may fit
        self._caption = asyncio.wrap_future(caption)
        self._caption.add_done_callback(self._partial_ready)

    def _partial_ready(self, task: asyncio.Future[Transcript | None]) -> None:
        """A speculative transcript doubles as the live caption while the caller is still speaking."""
        if task.cancelled() or task.exception() or not self.on_partial:
            return
        transcript = task.result()
        text = transcript.text if transcript else ""
        if text:
            asyncio.ensure_future(self.on_partial(text))
