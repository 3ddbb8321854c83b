"""One spoken conversation: caller audio in, answer audio out, every turn recorded as it happens.

The same agent serves the phone (8 kHz), the browser widget (16 kHz) and `hotline call` (a file fed as if
live). Latency: when the caller pauses briefly, the words are transcribed and the answer found at once
(speculatively); if the pause becomes the end of the turn, the answer is already there; if the caller goes
on, the early work is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from hotline.settings import Settings
from pipeline.dialogue import Conversation, Dialogue, Reply, clean_question, load_dialogue
from pipeline.language import sticky_language
from pipeline.records import CallbackRequest, CallRecord, SourceRecord, TranscriptSink, TurnRecord
from voice.answer_audio import AnswerAudioCache
from voice.audio import Audio
from voice.provision import locate
from voice.stt import SttConfig, Transcriber, Transcript
from voice.tts import Synthesizer, VoiceChoice, sentences
from voice.vad import EndpointConfig, Endpointer, TurnEvent, make_detector

log = logging.getLogger("hotline.call")
Clock = Callable[[], datetime]
EventSink = Callable[["AgentEvent"], Awaitable[None]]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AgentEvent:
    kind: str  # partial, final, reply, audio, barge_in, error
    text: str = ""
    reply: Reply | None = None
    audio: Audio | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


FIXED_PHRASES = ("transfer", "goodbye", "thanks", "clarify_empty", "clarify_low", "no_answer", "emergency",
                 "nothing_to_repeat", "no_details", "language_switched", "apology_fault", "ask_more",
                 "callback_offer", "callback_saved")


def answer_texts(dialogue: Dialogue, languages: Sequence[str]) -> list[tuple[str, str]]:
    """Every curated answer as it will be spoken, with its language: what the answer audio cache should hold."""
    texts = [(dialogue.render(localized.answer, lang), lang)
             for topic in dialogue.knowledge.topics.values() for lang, localized in topic.answers.items()
             if lang in languages]
    # The dialogue's fixed sentences (transfer, goodbye, clarify...) are as predictable as the answers.
    texts += [(dialogue.phrases.say(lang, key), lang) for lang in languages for key in FIXED_PHRASES]
    return texts


def voice_table(settings: Settings) -> dict[str, VoiceChoice]:
    return {lang: VoiceChoice(v.backend, v.voice, v.lang, v.speed) for lang, v in settings.voice.voices.items()}


def answer_audio_cache(settings: Settings, synthesizer: Synthesizer | None = None) -> AnswerAudioCache:
    """The answer audio cache with the configured voices; loads Piper and Kokoro only if the table uses them."""
    if synthesizer is None:
        voices = voice_table(settings)
        bundled = any(choice.backend in ("piper", "kokoro") for choice in voices.values())
        synthesizer = Synthesizer(voices, locate(settings.cache_dir) if bundled else None)
    return AnswerAudioCache(settings.cache_dir / "answer-audio", synthesizer)


class VoiceServices:
    """What every call shares, loaded once per process: models, voices, answer audio, the dialogue."""

    def __init__(self, settings: Settings, dialogue: Dialogue, transcriber: Transcriber,
                 synthesizer: Synthesizer, answers: AnswerAudioCache) -> None:
        self.settings = settings
        self.dialogue = dialogue
        self.transcriber = transcriber
        self.synthesizer = synthesizer
        self.answers = answers
        voice = settings.voice
        self.endpoint = EndpointConfig(pause_ms=voice.pause_ms, end_silence_ms=voice.end_silence_ms,
                                       max_turn_s=voice.max_turn_s)

    @classmethod
    def from_settings(cls, settings: Settings, dialogue: Dialogue | None = None) -> VoiceServices:
        models = locate(settings.cache_dir)
        whisper = settings.path(settings.voice.whisper_model) if settings.voice.whisper_model else models.whisper
        transcriber = Transcriber(
            whisper, SttConfig(cpu_threads=settings.voice.stt_threads, workers=settings.voice.stt_workers,
                               max_batch=settings.voice.stt_max_batch, short_window=settings.voice.stt_short_window),
            languages=settings.languages,
        )
        synthesizer = Synthesizer(voice_table(settings), models)
        return cls(settings, dialogue or load_dialogue(settings), transcriber, synthesizer,
                   answer_audio_cache(settings, synthesizer))

    def answer_texts(self) -> list[tuple[str, str]]:
        return answer_texts(self.dialogue, self.settings.languages)


class VoiceAgent:
    def __init__(self, services: VoiceServices, rate: int, channel: str, call_id: str,
                 sink: TranscriptSink | None = None, caller_number: str | None = None,
                 language: str | None = None, clock: Clock = utc_now, on_event: EventSink | None = None,
                 captions: bool = False, spoken_callback: bool = True, can_transfer: bool = True) -> None:
        """With `on_event`, events are delivered the moment they exist (live channels); without it, each call
        to `feed`/`text` returns its events as a list when the turn's work is done. `captions` adds partial
        transcripts while the caller speaks (the widget shows them; on the phone they would only cost CPU)."""
        self.captions = captions
        # The phone offers a callback by voice and can put the caller through; the widget has a form and a
        # tel: link instead, so there a request for staff is answered with how to reach them.
        self.spoken_callback = spoken_callback
        self.can_transfer = can_transfer
        self.services = services
        self.on_event = on_event
        self.rate = rate
        self.channel = channel
        self.call_id = call_id
        self.sink = sink
        self.caller_number = caller_number
        self.clock = clock
        self.conversation = Conversation.in_language(language)
        self.endpointer = Endpointer(make_detector(services.settings.voice.vad, rate), services.endpoint)
        self.turns = 0
        self.speaking_until = 0.0  # monotonic time when the audio already sent will have finished playing
        self._speculation: tuple[int, asyncio.Task, threading.Event] | None = None
        self._awaiting_callback = False
        self._callback_question: str | None = None
        self._last_turn: TurnRecord | None = None
        self.replies: list[Reply] = []
        self._pending: set[asyncio.Task] = set()
        self._caption: asyncio.Task | None = None
        self._spoken_over = 0
        self._captioned_s = 0.0

    # --- lifecycle ------------------------------------------------------------------------------------
    async def start(self, greeting: str | None = None) -> list[AgentEvent]:
        if self.sink:
            # The caller's number is kept only in a callback request they agreed to, never on the call.
            record = CallRecord(self.call_id, self.channel, self.clock(), None, self.conversation.language)
            await asyncio.to_thread(self.sink.start_call, record)
        if not greeting:
            return []
        language = self.conversation.language or self.services.settings.default_language
        events: list[AgentEvent] = []
        await self._deliver(events, AgentEvent("audio", greeting, audio=await self._speech(greeting, language)))
        return events

    async def close(self, outcome: str) -> None:
        await self.drain()
        if self.sink:
            await asyncio.to_thread(self.sink.end_call, self.call_id, self.clock(), outcome)

    def offer_callback(self, question: str | None = None) -> None:
        """The channel just offered a callback (e.g. staff did not answer): a "yes" next turn records it, with
        `question` (what the caller wanted, asked before the transfer) or else the question asked on this agent."""
        self._awaiting_callback = True
        self._callback_question = question

    def earlier_question(self) -> str:
        """What the caller came with: the last question for the knowledge base (one left unanswered first);
        failing that, the last thing they said, e.g. "I want to speak to someone"."""
        questions = [r for r in self.replies if r.question and r.intent is None]
        unanswered = [r for r in questions if r.unanswered]
        staff = [r for r in self.replies if r.question and r.intent == "human"]
        chosen = unanswered or questions or staff
        return chosen[-1].question if chosen else ""

    def choose_language(self, language: str) -> None:
        self.conversation.language = language
        self.conversation.forced_language = True

    def bot_speaking(self) -> bool:
        return time.monotonic() < self.speaking_until

    # --- input ----------------------------------------------------------------------------------------
    async def feed(self, samples: np.ndarray) -> list[AgentEvent]:
        arrived = time.monotonic()
        events: list[AgentEvent] = []
        for turn in self.endpointer.feed(samples):
            events.extend(await self._on_turn_event(turn, arrived))
        self._maybe_caption()
        return events

    def _maybe_caption(self) -> None:
        """While the caller speaks, transcribe the turn so far now and then for live captions (live mode)."""
        every = self.services.settings.voice.partial_every_s
        if not (self.on_event and self.captions and every) or (self._caption and not self._caption.done()):
            return
        audio = self.endpointer.current_audio()
        if audio is None or audio.seconds - self._captioned_s < every:
            if audio is None:
                self._captioned_s = 0.0
            return
        self._captioned_s = audio.seconds
        self._caption = asyncio.create_task(asyncio.to_thread(self._transcribe, audio))
        self._caption.add_done_callback(self._partial_ready)

    async def finish_input(self) -> list[AgentEvent]:
        """The caller's audio stream ended (a file, a closed socket): answer a turn still open."""
        arrived = time.monotonic()
        events: list[AgentEvent] = []
        for turn in self.endpointer.flush():
            events.extend(await self._on_turn_event(turn, arrived))
        await self.drain()
        return events

    async def text(self, text: str) -> list[AgentEvent]:
        """A typed question (the widget's text box): the same dialogue, without speech recognition."""
        return await self._answer(text, time.monotonic(), None, {"stt": 0.0})

    async def say_phrase(self, key: str, **values: str) -> list[AgentEvent]:
        language = self.conversation.language or self.services.settings.default_language
        text = self.services.dialogue.phrases.say(language, key, **values)
        events: list[AgentEvent] = []
        await self._deliver(events, AgentEvent("audio", text, audio=await self._speech(text, language)))
        return events

    async def _on_turn_event(self, turn: TurnEvent, arrived: float) -> list[AgentEvent]:
        if turn.kind == "started":
            self._drop_speculation()
            events: list[AgentEvent] = []
            if self.bot_speaking():
                self.speaking_until = 0.0
                self._spoken_over += 1  # answers still being synthesised stop delivering audio
                await self._deliver(events, AgentEvent("barge_in"))
                await self._mark_barge_in()
            return events
        if turn.kind == "resumed":
            self._drop_speculation()
            return []
        if turn.kind == "paused" and turn.audio is not None:
            dropped = threading.Event()
            task = asyncio.create_task(asyncio.to_thread(self._transcribe_and_prefetch, turn.audio, dropped))
            self._speculation = (len(turn.audio.samples), task, dropped)
            partial: list[AgentEvent] = []
            task.add_done_callback(lambda t: self._partial_ready(t))
            return partial
        if turn.kind == "ended" and turn.audio is not None:
            # The turn ended this long before the chunk that revealed it arrived (the end-of-turn silence).
            speech_end = arrived - (self.endpointer.position_s - turn.at_s)
            transcript = await self._final_transcript(turn)
            events = []
            if not transcript.text:
                log.info("call %s: no speech in turn (%s)", self.call_id, transcript.rejected)
                return events
            await self._deliver(events, AgentEvent("final", transcript.text))
            timings = {"stt": transcript.elapsed_ms}
            answer = self._answer(transcript.text, speech_end, transcript, timings, cut=turn.cut)
            if self.on_event:
                # Live: keep listening while the answer is prepared and spoken, so barge-in works.
                self._pending.add(task := asyncio.create_task(answer))
                task.add_done_callback(self._pending.discard)
                return events
            return events + await answer
        return []

    async def drain(self) -> None:
        """Wait for answers still being prepared (live mode)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def _partial_ready(self, task: asyncio.Task) -> None:
        """A speculative transcript doubles as the live caption while the caller is still speaking."""
        if task.cancelled() or task.exception() or not self.on_event:
            return
        text = task.result().text
        if text:
            asyncio.ensure_future(self.on_event(AgentEvent("partial", text)))

    def _transcribe(self, audio: Audio, still_wanted: Callable[[], bool] | None = None) -> Transcript:
        return self.services.transcriber.transcribe(audio, self.conversation.language, still_wanted)

    def _transcribe_and_prefetch(self, audio: Audio, dropped: threading.Event) -> Transcript:
        """Speculative work during a pause: the transcript, and the knowledge search the dialogue will ask."""
        transcript = self._transcribe(audio, still_wanted=lambda: not dropped.is_set())
        if transcript.text:
            dialogue = self.services.dialogue
            language = self.conversation.language if self.conversation.forced_language else None
            if language is None:
                guess = dialogue.identifier.identify(transcript.text, transcript.language_scores or None)
                language = sticky_language(self.conversation.language, guess, transcript.text,
                                           self.services.settings.default_language)
            question = clean_question(transcript.text, self.services.settings.knowledge.max_question_chars)
            dialogue.knowledge.search(question, language=language)
        return transcript

    def _drop_speculation(self) -> None:
        if self._speculation:
            # The thread cannot be stopped once Whisper runs, but one still queued for a worker is skipped.
            self._speculation[2].set()
            self._speculation[1].cancel()
            self._speculation = None

    async def _final_transcript(self, turn: TurnEvent) -> Transcript:
        assert turn.audio is not None
        speculation, self._speculation = self._speculation, None
        if speculation and speculation[0] >= len(turn.audio.samples) - self.rate // 5:
            try:
                return await speculation[1]
            except asyncio.CancelledError:
                pass
        return await asyncio.to_thread(self._transcribe, turn.audio)

    # --- output ---------------------------------------------------------------------------------------
    async def _deliver(self, events: list[AgentEvent], event: AgentEvent) -> None:
        if self.on_event:
            await self.on_event(event)
        else:
            events.append(event)

    async def _answer(self, text: str, speech_end: float, transcript: Transcript | None,
                      timings: dict[str, float], cut: bool = False) -> list[AgentEvent]:
        services = self.services
        spoken = transcript.language_scores if transcript and transcript.language_scores else None
        error = None
        try:
            reply = await asyncio.to_thread(self._respond, text, spoken)
        except Exception as exc:
            log.exception("call %s: dialogue failed", self.call_id)
            language = self.conversation.language or services.settings.default_language
            reply = Reply(language, "clarify", services.dialogue.phrases.say(language, "apology_fault"),
                          intent="error", question=text)
            error = f"{type(exc).__name__}: {exc}"
        reply.timings_ms.update(timings)
        events: list[AgentEvent] = []
        await self._deliver(events, AgentEvent("reply", reply.answer, reply=reply))
        tts_started = time.monotonic()
        first = True
        interrupted_at = self._spoken_over
        try:
            async for chunk in self._speak_chunks(reply.answer, reply.language, curated=True):
                if self._spoken_over != interrupted_at:
                    break
                if first:
                    now = time.monotonic()
                    reply.timings_ms["tts_first_audio"] = (now - tts_started) * 1000
                    reply.timings_ms["voice_to_voice"] = (now - speech_end) * 1000
                    first = False
                self.speaking_until = max(self.speaking_until, time.monotonic()) + chunk.seconds
                await self._deliver(events, AgentEvent("audio", reply.answer, audio=chunk))
        except Exception as exc:
            log.exception("call %s: speaking the answer failed", self.call_id)
            error = error or f"{type(exc).__name__}: {exc}"
            await self._deliver(events, AgentEvent("error", error, reply=reply))
        self.replies.append(reply)
        await self._record(reply, transcript, error, cut)
        return events

    def _respond(self, text: str, spoken: dict[str, float] | None) -> Reply:
        dialogue = self.services.dialogue
        if self._awaiting_callback:
            self._awaiting_callback = False
            intents = dialogue.intents.match(text).intents
            if "yes" in intents:
                return self._take_callback(text)
        reply = dialogue.respond(self.conversation, text, self.clock(), spoken)
        if reply.action == "transfer" and not self.can_transfer:
            contact = dialogue.knowledge.topics.get("contact-welcome-center")
            if contact:
                how = dialogue.answer(contact, reply.language, 1.0, reply.question)
                reply = Reply(reply.language, "transfer", how.answer, how.topic, how.sources, 1.0,
                              intent=reply.intent, question=reply.question, timings_ms=reply.timings_ms)
        if reply.action == "closed" and self.spoken_callback:
            self.offer_callback()
            offer = dialogue.phrases.say(reply.language, "callback_offer")
            reply = Reply(reply.language, reply.action, f"{reply.answer} {offer}", intent=reply.intent,
                          question=reply.question, timings_ms=reply.timings_ms)
        return reply

    def _take_callback(self, text: str) -> Reply:
        dialogue = self.services.dialogue
        language = self.conversation.language or self.services.settings.default_language
        question = self._callback_question or self.earlier_question()
        if self.sink:
            self.sink.add_callback(CallbackRequest(self.call_id, language, question or text, self.clock(),
                                                   number=self.caller_number))
        return Reply(language, "answer", dialogue.phrases.say(language, "callback_saved"), intent="callback",
                     question=text)

    async def _speak_chunks(self, text: str, language: str, curated: bool) -> AsyncIterator[Audio]:
        """Cached audio when the text was rendered ahead; otherwise live, sentence by sentence, so the first
        sentence plays while the next is synthesised. A curated answer spoken live is cached afterwards."""
        answers = self.services.answers
        cached = await asyncio.to_thread(answers.cached, text, language, self.rate)
        if cached is not None:
            yield cached
            return
        native = []
        for sentence in sentences(text):
            audio = await asyncio.to_thread(self.services.synthesizer.speak, sentence, language)
            native.append(audio)
            yield await asyncio.to_thread(audio.at_rate, self.rate)
        if curated and native:
            await asyncio.to_thread(answers.store, text, language, native)

    async def _speech(self, text: str, language: str) -> Audio:
        chunks = [chunk async for chunk in self._speak_chunks(text, language, curated=True)]
        audio = Audio.concat(chunks, self.rate)
        self.speaking_until = max(self.speaking_until, time.monotonic()) + audio.seconds
        return audio

    async def _record(self, reply: Reply, transcript: Transcript | None, error: str | None, cut: bool) -> None:
        turn = TurnRecord(
            index=self.turns, at=self.clock(), transcript=reply.question, language=reply.language,
            action=reply.action, answer=reply.answer,
            detected_language=transcript.language if transcript else None,
            language_confidence=transcript.language_probability if transcript else None,
            topic=reply.topic, sources=tuple(SourceRecord(s.title, s.url) for s in reply.sources),
            confidence=reply.confidence, intent=reply.intent, unanswered=reply.unanswered,
            error=error or ("turn cut at the maximum length" if cut else None),
            timings_ms=dict(reply.timings_ms),
        )
        self.turns += 1
        self._last_turn = turn
        if self.sink:
            try:
                await asyncio.to_thread(self.sink.add_turn, self.call_id, turn)
            except Exception:
                log.exception("call %s: could not store turn %d: %r", self.call_id, turn.index, turn)

    async def _mark_barge_in(self) -> None:
        if self._last_turn and self.sink:
            from dataclasses import replace

            turn = replace(self._last_turn, barge_in=True)
            try:
                await asyncio.to_thread(self.sink.add_turn, self.call_id, turn)
            except Exception:
                log.exception("call %s: could not mark barge-in", self.call_id)


