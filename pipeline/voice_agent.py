"""One spoken conversation: caller audio in, answer audio out, every turn recorded as it happens.

The same agent serves the phone (8 kHz), the browser widget (16 kHz) and `hotline call` (a file fed as if
live). It wires four parts, each in its own module: the `Listener` (turn-taking, speculative transcription,
captions), the `Dialogue` (what to answer), the `Speaker` (answer audio) and the `Recorder` (the transcript
store). What is left here is the order of a turn and the channel's policy for callbacks and transfers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from pipeline.dialogue import Conversation, Reply, clean_question
from pipeline.language import sticky_language
from pipeline.listening import Heard, Listener
from pipeline.recording import Recorder
from pipeline.records import CallbackRequest, TranscriptSink
from pipeline.services import VoiceServices
from pipeline.speaking import Speaker
from voice.audio import Audio
from voice.stt import Transcript

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


class VoiceAgent:
    def __init__(self, services: VoiceServices, rate: int, channel: str, call_id: str,
                 sink: TranscriptSink | None = None, caller_number: str | None = None,
                 language: str | None = None, clock: Clock = utc_now, on_event: EventSink | None = None,
                 captions: bool = False, spoken_callback: bool = True, can_transfer: bool = True) -> None:
        """With `on_event`, events are delivered the moment they exist (live channels); without it, each call
        to `feed`/`text` returns its events as a list when the turn's work is done. `captions` adds partial
        transcripts while the caller speaks (the widget shows them; on the phone they would only cost CPU)."""
        # The phone offers a callback by voice and can put the caller through; the widget has a form and a
        # tel: link instead, so there a request for staff is answered with how to reach them.
        self.spoken_callback = spoken_callback
        self.can_transfer = can_transfer
        self.services = services
        self.on_event = on_event
        self.rate = rate
        self.channel = channel
        self.call_id = call_id
        self.caller_number = caller_number
        self.clock = clock
        self.conversation = Conversation.in_language(language)
        voice = services.settings.voice
        self.listener = Listener(services.transcriber, voice.vad, rate, services.endpoint,
                                 language=lambda: self.conversation.language, prefetch=self._prefetch,
                                 on_partial=self._partial if on_event else None,
                                 partial_every_s=voice.partial_every_s if captions else 0.0)
        self.speaker = Speaker(services.answers, services.synthesizer, rate)
        self.recorder = Recorder(sink, call_id, channel, clock, services.observer)
        self._awaiting_callback = False
        self._callback_question: str | None = None
        self.replies: list[Reply] = []
        self._pending: set[asyncio.Task] = set()

    # --- lifecycle ------------------------------------------------------------------------------------
    async def start(self, greeting: str | None = None) -> list[AgentEvent]:
        await self.recorder.start(self.conversation.language)
        if not greeting:
            return []
        events: list[AgentEvent] = []
        audio = await self.speaker.whole(greeting, self._language())
        await self._deliver(events, AgentEvent("audio", greeting, audio=audio))
        return events

    async def close(self, outcome: str) -> None:
        await self.drain()
        await self.recorder.end(outcome)

    async def drain(self) -> None:
        """Wait for answers still being prepared (live mode)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    @property
    def turns(self) -> int:
        return self.recorder.turns

    @property
    def speaking_until(self) -> float:
        return self.speaker.speaking_until

    @speaking_until.setter
    def speaking_until(self, value: float) -> None:
        self.speaker.speaking_until = value

    def bot_speaking(self) -> bool:
        return self.speaker.is_speaking()

    def caller_speaking(self) -> bool:
        return self.listener.endpointer.in_turn

    def choose_language(self, language: str) -> None:
        self.conversation.language = language
        self.conversation.forced_language = True

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

    # --- input ----------------------------------------------------------------------------------------
    async def feed(self, samples: np.ndarray) -> list[AgentEvent]:
        events: list[AgentEvent] = []
        for heard in await self.listener.feed(samples):
            events.extend(await self._on_heard(heard))
        return events

    async def finish_input(self) -> list[AgentEvent]:
        """The caller's audio stream ended (a file, a closed socket): answer a turn still open."""
        events: list[AgentEvent] = []
        for heard in await self.listener.flush():
            events.extend(await self._on_heard(heard))
        await self.drain()
        return events

    async def text(self, text: str) -> list[AgentEvent]:
        """A typed question (the widget's text box): the same dialogue, without speech recognition."""
        return await self._answer(text, time.monotonic(), None, {"stt": 0.0})

    async def say_phrase(self, key: str, **values: str) -> list[AgentEvent]:
        language = self._language()
        text = self.services.dialogue.phrases.say(language, key, **values)
        events: list[AgentEvent] = []
        await self._deliver(events, AgentEvent("audio", text, audio=await self.speaker.whole(text, language)))
        return events

    async def _on_heard(self, heard: Heard) -> list[AgentEvent]:
        events: list[AgentEvent] = []
        if heard.kind == "started":
            if self.speaker.is_speaking():
                self.speaker.interrupt()
                await self._deliver(events, AgentEvent("barge_in"))
                await self.recorder.barge_in()
            return events
        transcript = heard.transcript
        assert transcript is not None
        if not transcript.text:
            log.info("call %s: no speech in turn (%s)", self.call_id, transcript.rejected)
            return events
        await self._deliver(events, AgentEvent("final", transcript.text))
        answer = self._answer(transcript.text, heard.speech_end, transcript, {"stt": transcript.elapsed_ms},
                              cut=heard.cut)
        if self.on_event:
            # Live: keep listening while the answer is prepared and spoken, so barge-in works.
            self._pending.add(task := asyncio.create_task(answer))
            task.add_done_callback(self._pending.discard)
            return events
        return events + await answer

    def _prefetch(self, transcript: Transcript) -> None:
        """Speculative work during a pause (a worker thread): the knowledge search the dialogue will ask."""
        dialogue = self.services.dialogue
        settings = self.services.settings
        language = self.conversation.language if self.conversation.forced_language else None
        if language is None:
            guess = dialogue.identifier.identify(transcript.text, transcript.language_scores or None)
            language = sticky_language(self.conversation.language, guess, transcript.text,
                                       settings.default_language)
        dialogue.knowledge.search(clean_question(transcript.text, settings.knowledge.max_question_chars),
                                  language=language)

    async def _partial(self, text: str) -> None:
        if self.on_event:
            await self.on_event(AgentEvent("partial", text))

    # --- output ---------------------------------------------------------------------------------------
    async def _deliver(self, events: list[AgentEvent], event: AgentEvent) -> None:
        if self.on_event:
            await self.on_event(event)
        else:
            events.append(event)

    async def _answer(self, text: str, speech_end: float, transcript: Transcript | None,
                      timings: dict[str, float], cut: bool = False) -> list[AgentEvent]:
        spoken = transcript.language_scores if transcript and transcript.language_scores else None
        error = None
        try:
            reply = await asyncio.to_thread(self._respond, text, spoken)
        except Exception as exc:
            log.exception("call %s: dialogue failed", self.call_id)
            language = self._language()
            reply = Reply(language, "clarify", self.services.dialogue.phrases.say(language, "apology_fault"),
                          intent="error", question=text)
            error = type(exc).__name__
        reply.timings_ms.update(timings)
        index = self.recorder.next_index()
        events: list[AgentEvent] = []
        await self._deliver(events, AgentEvent("reply", reply.answer, reply=reply))
        tts_started = time.monotonic()
        first = True
        interrupted_at = self.speaker.interruptions
        try:
            async for chunk in self.speaker.chunks(reply.answer, reply.language):
                if self.speaker.interruptions != interrupted_at:
                    break
                if first:
                    now = time.monotonic()
                    reply.timings_ms["tts_first_audio"] = (now - tts_started) * 1000
                    reply.timings_ms["voice_to_voice"] = (now - speech_end) * 1000
                    first = False
                self.speaker.played(chunk)
                await self._deliver(events, AgentEvent("audio", reply.answer, audio=chunk))
        except Exception as exc:
            log.exception("call %s: speaking the answer failed", self.call_id)
            error = error or type(exc).__name__
            await self._deliver(events, AgentEvent("error", error, reply=reply))
        self.replies.append(reply)
        await self.recorder.turn(index, reply, transcript, error, cut)
        return events

    def _language(self) -> str:
        return self.conversation.language or self.services.settings.default_language

    def _respond(self, text: str, spoken: dict[str, float] | None) -> Reply:
        dialogue = self.services.dialogue
        if self._awaiting_callback:
            self._awaiting_callback = False
            if "yes" in dialogue.intents.match(text).intents:
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
        language = self._language()
        question = self._callback_question or self.earlier_question()
        self.recorder.callback(CallbackRequest(self.call_id, language, question or text, self.clock(),
                                               number=self.caller_number))
        return Reply(language, "answer", self.services.dialogue.phrases.say(language, "callback_saved"),
                     intent="callback", question=text)
