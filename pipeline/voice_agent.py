"""One spoken conversation: caller audio in, answer audio out, every turn recorded as it happens.

The same agent serves the phone (8 kHz), the browser widget (16 kHz) and `hotline call` (a file fed as if
live). It wires four parts, each in its own module: the `Listener` (turn-taking, speculative transcription,
captions), the `Dialogue` (what to answer), the `Speaker` (answer audio) and the `Recorder` (the transcript
store). What is left here is the order of a turn and the channel's policy for callbacks and transfers.

A turn is recorded when its reply is decided and again when its speaking ends: played to the end, barged
in on, cut by the caller hanging up (`close`), or failed (the voice broke; an apology was spoken instead).
A fault of the recogniser, the dialogue or the voice is answered with a spoken apology (in a fallback voice
if need be) and a reply of intent "error", on which the channel offers its way out (staff, a callback).
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
from pipeline.listening import Heard, Listener
from pipeline.recognition import PHONE, WIDGET
from pipeline.recording import Recorder
from pipeline.records import CallbackRequest, TranscriptSink
from pipeline.services import VoiceServices
from pipeline.speaking import Speaker, fault_name
from voice.audio import Audio
from voice.stt import Transcript

log = logging.getLogger("hotline.call")
Clock = Callable[[], datetime]
EventSink = Callable[["AgentEvent"], Awaitable[None]]
DECIDE_GRACE_S = 5.0  # on close, a reply still being decided gets this long to be recorded


def utc_now() -> datetime:
    return datetime.now(UTC)


def _log_fault(call_id: str, what: str, exc: BaseException) -> None:
    # The exception's message may quote the caller's words or the answer: the error line names only its
    # type; the traceback, for a developer, goes to the debug log.
    log.error("call %s: %s (%s)", call_id, what, type(exc).__name__)
    log.debug("call %s: %s", call_id, what, exc_info=exc)


@dataclass(frozen=True)
class AgentEvent:
    kind: str  # partial, final, reply, audio, barge_in
    text: str = field(default="", repr=False)
    reply: Reply | None = None
    audio: Audio | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


def recognition_priority(channel: str) -> str:
    """A caller on the phone has nothing but their ear; everyone else can read or type while they wait."""
    return PHONE if channel == "phone" else WIDGET


class VoiceAgent:
    def __init__(self, services: VoiceServices, rate: int, channel: str, call_id: str,
                 sink: TranscriptSink | None = None, caller_number: str | None = None,
                 language: str | None = None, clock: Clock = utc_now, on_event: EventSink | None = None,
                 captions: bool = False, spoken_callback: bool = True, can_transfer: bool = True,
                 live_playback: bool = False) -> None:
        """With `on_event`, events are delivered the moment they exist (live channels); without it, each call
        to `feed`/`text` returns its events as a list when the turn's work is done. `captions` adds partial
        transcripts while the caller speaks (the widget shows them; on the phone they would only cost CPU).
        `live_playback`: the channel plays the audio in real time (phone, widget), so a turn counts as played
        once its audio has had time to play; otherwise (a file, a benchmark) once it was handed over."""
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
                                 partial_every_s=voice.partial_every_s if captions else 0.0,
                                 recognition=services.recognition, priority=recognition_priority(channel),
                                 turn_model=services.turn_model)
        self.speaker = Speaker(services.answers, services.synthesizer, rate, services.fallback)
        self.recorder = Recorder(sink, call_id, channel, clock, services.observer)
        self.live_playback = live_playback
        self._awaiting_callback = False
        self._callback_question: str | None = None
        self.sms_offered = False  # "Shall I send you the links by SMS?" was just asked: a yes is consent
        self._callback_request: CallbackRequest | None = None
        self.replies: list[Reply] = []
        self._pending: set[asyncio.Task] = set()
        self._answering: dict[asyncio.Task, str] = {}  # answers in progress: "deciding" or "speaking"
        self._watchers: set[asyncio.Task] = set()  # answers whose audio is still playing
        self._closed = False

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
        """The call is over (the caller hung up, closed the widget, or we ended it): what is being spoken
        stops, and each turn still speaking is recorded as cut by the hang-up. A reply still being decided
        is waited for, briefly, so the caller's last question is recorded too."""
        self._closed = True
        speaking = [task for task, phase in self._answering.items() if phase == "speaking"]
        for task in [*speaking, *self._watchers]:
            task.cancel()
        deciding = [task for task, phase in self._answering.items() if phase == "deciding"]
        if deciding:
            _, late = await asyncio.wait(deciding, timeout=DECIDE_GRACE_S)
            for task in late:
                task.cancel()
        await asyncio.gather(*speaking, *deciding, *self._watchers, *self._pending, return_exceptions=True)
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

    @property
    def heard_s(self) -> float:
        """Seconds of the caller's audio read so far: the caller's clock, which lags ours when we fall behind."""
        return self.listener.endpointer.position_s

    def caller_speaking(self) -> bool:
        return self.listener.endpointer.in_turn

    def working(self) -> bool:
        """A turn of the caller's is still being recognised or answered: the line is quiet because of us."""
        return bool(self.listener.recognising or self._answering or self._pending)

    def choose_language(self, language: str) -> None:
        self.conversation.language = language
        self.conversation.forced_language = True

    def offer_callback(self, question: str | None = None) -> None:
        """The channel just offered a callback (e.g. staff did not answer): a "yes" next turn records it, with
        `question` (what the caller wanted, asked before the transfer) or else the question asked on this agent."""
        self._awaiting_callback = True
        self._callback_question = question

    def offer_sms(self) -> None:
        """The channel just offered the links by SMS: a "yes" (or key 1) next turn is the caller's consent,
        answered with a reply of intent "sms" that the channel acts on; anything else is a turn as usual."""
        self.sms_offered = True

    def earlier_question(self) -> str:
        """What the caller came with: the last question for the knowledge base (one left unanswered first);
        failing that, the last thing they said, e.g. "I want to speak to someone"."""
        # A question the hotline failed on (intent "error") or answered with a choice question ("choose") counts.
        questions = [r for r in self.replies if r.question and r.intent in (None, "error", "choose")]
        unanswered = [r for r in questions if r.unanswered]
        staff = [r for r in self.replies if r.question and r.intent == "human"]
        chosen = unanswered or questions or staff
        return chosen[-1].question if chosen else ""

    # --- input ----------------------------------------------------------------------------------------
    async def feed(self, samples: np.ndarray) -> list[AgentEvent]:
        events: list[AgentEvent] = []
        try:
            heard_now = await self.listener.feed(samples)
        except Exception as exc:  # noqa: BLE001 - any recogniser fault ends in an apology, not silence
            return await self._recognition_failed(exc)
        for heard in heard_now:
            events.extend(await self._on_heard(heard))
        return events

    async def end_of_speech(self) -> list[AgentEvent]:
        """The caller said they have finished (press-to-talk released): a turn still open ends now, whatever the
        silence or the turn model would say."""
        events: list[AgentEvent] = []
        try:
            heard_now = await self.listener.flush()
        except Exception as exc:  # noqa: BLE001 - as in feed
            heard_now = []
            events = await self._recognition_failed(exc)
        for heard in heard_now:
            events.extend(await self._on_heard(heard))
        return events

    async def finish_input(self) -> list[AgentEvent]:
        """The caller's audio stream ended (a file, a closed socket): answer a turn still open."""
        events = await self.end_of_speech()
        await self.drain()
        return events

    async def _recognition_failed(self, exc: Exception) -> list[AgentEvent]:
        """The recogniser broke on the caller's turn: the turn is recorded with the fault and apologised for."""
        _log_fault(self.call_id, "speech recognition failed", exc)
        fault = f"recogniser: {type(exc).__name__}"
        return await self._start_answer(self._answer("", time.monotonic(), None, {}, fault=fault))

    async def text(self, text: str) -> list[AgentEvent]:
        """A typed question (the widget's text box): the same dialogue, without speech recognition."""
        return await self._answer(text, time.monotonic(), None, {"stt": 0.0})

    async def _start_answer(self, answer: Awaitable[list[AgentEvent]]) -> list[AgentEvent]:
        if self.on_event:
            # Live: keep listening while the answer is prepared and spoken, so barge-in works.
            self._pending.add(task := asyncio.ensure_future(answer))
            task.add_done_callback(self._pending.discard)
            return []
        return await answer

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
                self.speaker.interrupt()  # the answer speaking now records itself as barged in on
                await self._deliver(events, AgentEvent("barge_in"))
            return events
        transcript = heard.transcript
        assert transcript is not None
        if not transcript.text:
            log.info("call %s: no speech in turn (%s)", self.call_id, transcript.rejected)
            return events
        await self._deliver(events, AgentEvent("final", transcript.text))
        answer = self._answer(transcript.text, heard.speech_end, transcript, {"stt": transcript.elapsed_ms},
                              cut=heard.cut)
        return events + await self._start_answer(answer)

    def _prefetch(self, transcript: Transcript) -> None:
        """Speculative work during a pause (a worker thread): the knowledge search the dialogue will ask."""
        dialogue = self.services.dialogue
        settings = self.services.settings
        guess = dialogue.identifier.identify(transcript.text, transcript.language_scores or None)
        language = dialogue.next_language(self.conversation, guess, transcript.text)
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
                      timings: dict[str, float], cut: bool = False, fault: str | None = None) -> list[AgentEvent]:
        task = asyncio.current_task()
        assert task is not None
        self._answering[task] = "deciding"
        try:
            return await self._answer_turn(task, text, speech_end, transcript, timings, cut, fault)
        finally:
            self._answering.pop(task, None)

    async def _answer_turn(self, task: asyncio.Task, text: str, speech_end: float, transcript: Transcript | None,
                           timings: dict[str, float], cut: bool, fault: str | None) -> list[AgentEvent]:
        faulted_at = time.monotonic() if fault else None
        if fault is None:
            spoken = transcript.language_scores if transcript and transcript.language_scores else None
            try:
                reply = await asyncio.to_thread(self._respond, text, spoken)
            except Exception as exc:  # noqa: BLE001 - any dialogue fault ends in an apology
                _log_fault(self.call_id, "the dialogue failed", exc)
                fault, faulted_at = f"dialogue: {type(exc).__name__}", time.monotonic()
        if fault is not None:
            reply = self._apology(text)
        if self._callback_request is not None:
            self.recorder.callback(self._callback_request)
            self._callback_request = None
        reply.timings_ms.update(timings)
        index = self.recorder.next_index()
        self.replies.append(reply)
        self.recorder.decided(index, reply, transcript, fault, cut)
        events: list[AgentEvent] = []
        if self._closed:  # the caller left while the reply was being decided
            self.recorder.ended(index, "hung_up")
            return events
        await self._deliver(events, AgentEvent("reply", reply.answer, reply=reply))
        self._answering[task] = "speaking"
        interrupted_at = self.speaker.interruptions
        try:
            ending, error = await self._speak(events, reply, speech_end, faulted_at)
        except asyncio.CancelledError:
            self.recorder.ended(index, "hung_up", reply.timings_ms)
            raise
        if ending == "played" and self.live_playback:
            self._watch_playback(index, self.speaker.speaking_until, interrupted_at, reply.timings_ms)
        else:
            self.recorder.ended(index, ending, reply.timings_ms, error)
        return events

    async def _speak(self, events: list[AgentEvent], reply: Reply, speech_end: float,
                     faulted_at: float | None) -> tuple[str, str | None]:
        """Deliver the reply's audio; (how it ended so far, the voice's fault). A failing voice is replaced by
        an apology in the fallback voice, and a reply of intent "error" tells the channel to offer a way out."""
        tts_started = time.monotonic()
        interrupted_at = self.speaker.interruptions
        first = True
        try:
            if reply.intent == "error":  # an apology: at once, whatever state the voice is in
                audio = await self.speaker.urgent(reply.answer, reply.language)
                self._first_audio(reply, tts_started, speech_end, faulted_at)
                await self._deliver(events, AgentEvent("audio", reply.answer, audio=audio))
                return "played", None
            async for chunk in self.speaker.chunks(reply.answer, reply.language):
                if self.speaker.interruptions != interrupted_at:
                    return ("hung_up" if self._closed else "barged_in"), None
                if first:
                    self._first_audio(reply, tts_started, speech_end, faulted_at)
                    first = False
                self.speaker.played(chunk)
                await self._deliver(events, AgentEvent("audio", reply.answer, audio=chunk))
        except Exception as exc:  # noqa: BLE001 - any voice fault ends in an apology, not silence
            error = f"voice: {fault_name(exc)}"
            _log_fault(self.call_id, "speaking the answer failed", exc)
            broke = time.monotonic()
            apology = reply if reply.intent == "error" else self._apology(reply.question)
            if apology is not reply:
                await self._deliver(events, AgentEvent("reply", apology.answer, reply=apology))
            audio = await self.speaker.urgent(apology.answer, apology.language)
            reply.timings_ms["fault_to_apology"] = (time.monotonic() - (faulted_at or broke)) * 1000
            await self._deliver(events, AgentEvent("audio", apology.answer, audio=audio))
            return "failed", error
        if self.speaker.interruptions != interrupted_at:
            return ("hung_up" if self._closed else "barged_in"), None
        return "played", None

    @staticmethod
    def _first_audio(reply: Reply, tts_started: float, speech_end: float, faulted_at: float | None) -> None:
        now = time.monotonic()
        reply.timings_ms["tts_first_audio"] = (now - tts_started) * 1000
        reply.timings_ms["voice_to_voice"] = (now - speech_end) * 1000
        if faulted_at is not None:
            reply.timings_ms["fault_to_apology"] = (now - faulted_at) * 1000

    def _watch_playback(self, index: int, ends_at: float, interrupted_at: int, timings: dict[str, float]) -> None:
        """The answer's audio is all in the channel; it has been heard once it had time to play uncut."""
        async def watch() -> None:
            try:
                played = await self.speaker.until(ends_at, interrupted_at)
            except asyncio.CancelledError:
                self.recorder.ended(index, "hung_up", timings)
                raise
            self.recorder.ended(index, "played" if played else ("hung_up" if self._closed else "barged_in"),
                                timings)

        task = asyncio.ensure_future(watch())
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    def _apology(self, question: str) -> Reply:
        language = self._language()
        return Reply(language, "clarify", self.services.dialogue.phrases.say(language, "apology_fault"),
                     intent="error", question=question)

    def _language(self) -> str:
        return self.conversation.language or self.services.settings.default_language

    def _respond(self, text: str, spoken: dict[str, float] | None) -> Reply:
        dialogue = self.services.dialogue
        if self._awaiting_callback:
            self._awaiting_callback = False
            if "yes" in dialogue.intents.match(text).intents:
                return self._take_callback(text)
        if self.sms_offered:
            self.sms_offered = False
            said = set(dialogue.intents.match(text).intents)
            language = self._language()
            if text.strip() == "1" or "yes" in said:
                return Reply(language, "answer", dialogue.phrases.say(language, "sms_sending"), intent="sms",
                             question=text)
            if "no" in said:  # the refusal is on record as well; nothing is sent
                return Reply(language, "answer", dialogue.phrases.say(language, "ask_more"),
                             intent="sms_declined", question=text)
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
        # Runs in a worker thread: the request is recorded by `_answer_turn`, on the call's event loop.
        self._callback_request = CallbackRequest(self.call_id, language, question or text, self.clock(),
                                                 number=self.caller_number)
        return Reply(language, "answer", self.services.dialogue.phrases.say(language, "callback_saved"),
                     intent="callback", question=text)
