"""One phone call: Twilio's media stream through the real pipecat pipeline to the voice agent, and back.

    [transport.input(), PhoneKeysProcessor, VoiceAgentProcessor, PlaybackProcessor, transport.output()]

The agent answers; this class decides how the call goes on and ends. Anything that must happen after the
caller has *heard* something (put through to staff after "I am connecting you", hang up after "goodbye")
waits for Twilio to echo a mark sent behind that audio. Every ending (goodbye, caller hung up, silence,
maximum length, transfer, internal fault) ends the pipeline and completes the call's record.

A fault the agent apologised for (recogniser, dialogue, voice) and a transfer Twilio refused lead out of the
call: to staff while the centre is open, otherwise (or when the transfer failed) to a callback offer and a
goodbye. The transcript notice is repeated in the caller's language once that language is known.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import WebSocket
from pipecat.frames.frames import EndFrame, ErrorFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.workers.runner import WorkerRunner
from starlette.websockets import WebSocketState

from pipeline.dialogue import Reply
from pipeline.processors import VoiceAgentProcessor
from pipeline.voice_agent import AgentEvent, VoiceAgent
from telephony import twiml
from telephony.consent import NOTICE_IN_WELCOME, ConsentedRecords
from telephony.greeting import SpokenPart
from telephony.line import PHONE_RATE, PhoneLine
from telephony.processors import MarkAfterPlayback, PhoneKeysProcessor, PlaybackProcessor
from telephony.protocol import StreamStart, TwilioMediaSerializer
from telephony.rest import CallControlError
from telephony.sms import SmsError, SmsOffer, link_message
from telephony.tokens import RESUME_CALLBACK, StreamGrant
from voice.audio import Audio

log = logging.getLogger("hotline.twilio")
WATCH_INTERVAL_S = 0.25
CLOSE_TIMEOUT_S = 30.0
TEARDOWN_TIMEOUT_S = 5.0  # from the hang-up to a pipeline that has stopped; past it, it is stopped by force
POLICY_VIOLATION = 1008


@dataclass(frozen=True)
class _AfterPlayback:
    mark: str
    action: Callable[[], Awaitable[None]]
    interruptible: bool  # the caller speaking over the audio cancels it (else it happens at once)


class PhoneCall:
    def __init__(self, websocket: WebSocket, stream: StreamStart, grant: StreamGrant, line: PhoneLine,
                 caller_number: str | None = None) -> None:
        self.websocket = websocket
        self.stream = stream
        self.grant = grant
        self.line = line
        self.call_sid = stream.call_sid
        twilio = line.settings.twilio
        self.serializer = TwilioMediaSerializer(stream, twilio.auth_token, twilio.api_base_url)
        self.records = ConsentedRecords(line.sink, self.call_sid) if line.sink else None
        self.agent = VoiceAgent(line.services, PHONE_RATE, "phone", self.call_sid, sink=self.records,
                                caller_number=caller_number, language=grant.language, clock=line.clock,
                                live_playback=True)
        self.outcome: str | None = None
        self._closing = False  # an ending is under way: no more prompts
        self._after: _AfterPlayback | None = None
        self._marks = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: asyncio.Task[Any] | None = None  # the pipeline, once it runs
        self._last_activity = time.monotonic()
        self._heard_at_activity = 0.0  # the caller's audio clock (seconds of their audio read) at that moment
        self._heard = (0.0, time.monotonic())  # the audio clock, and when it last moved
        self._prompted = False
        self._menu_due = grant.resume != RESUME_CALLBACK  # the menu, if the caller says nothing after the welcome
        self._welcomed = False
        self._cuts = 0  # our own speech stops when this changes (barge-in, a key)
        self._after_interruption: list[SpokenPart] = []
        self._winding_down: str | None = None  # after a fault: the outcome the call ends with after the offer
        self._consent_told = grant.resume == RESUME_CALLBACK  # a caller back from a transfer heard it before
        self.sms = SmsOffer(caller_number, line.texts.may_send_to(caller_number))

    # --- running ----------------------------------------------------------------------------------------
    async def run(self) -> str:
        transport = FastAPIWebsocketTransport(self.websocket, FastAPIWebsocketParams(
            serializer=self.serializer, audio_in_enabled=True, audio_out_enabled=True,
            audio_in_sample_rate=PHONE_RATE, audio_out_sample_rate=PHONE_RATE,
            allowed_origins=[],  # Twilio sends no Origin header: PIPECAT_ALLOWED_ORIGINS must not refuse it
        ))
        self.playback = PlaybackProcessor(self, self.stream.stream_sid)
        pipeline = Pipeline([
            transport.input(), PhoneKeysProcessor(self),
            VoiceAgentProcessor(self.agent, on_language_chosen=self._tell_consent), self.playback,
            transport.output(),
        ])
        self.worker = PipelineWorker(
            pipeline, params=PipelineParams(audio_in_sample_rate=PHONE_RATE, audio_out_sample_rate=PHONE_RATE),
            enable_rtvi=False, enable_turn_tracking=False, idle_timeout_secs=None, name=f"call-{self.call_sid}",
        )

        @transport.event_handler("on_client_disconnected")
        async def _disconnected(_transport: Any, _websocket: Any) -> None:
            self.on_hang_up()

        @self.worker.event_handler("on_pipeline_started")
        async def _started(_worker: Any, _frame: Any) -> None:
            self._spawn(self._begin(), "greeting")

        @self.worker.event_handler("on_pipeline_error")
        async def _error(_worker: Any, frame: ErrorFrame) -> None:
            self._spawn(self.fault(f"pipeline error: {frame.error}"), "fault")

        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(self.worker)
        self._running = asyncio.create_task(runner.run(), name=f"{self.call_sid} pipeline")
        try:
            await self._running
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the server is stopping: not ours to swallow
            # Our own teardown deadline stopped a pipeline that did not stop by itself after the hang-up.
        finally:
            await self._cancel_tasks()
            # Before the record is completed (a busy database may take a while): the caller's side must not
            # wait for it. pipecat has closed the socket already unless the pipeline was stopped by force.
            if WebSocketState.CONNECTED == self.websocket.client_state == self.websocket.application_state:
                with suppress(Exception):  # the peer may be gone already
                    await self.websocket.close(code=POLICY_VIOLATION if self.serializer.rejected else 1000)
            outcome = self.outcome or "hung_up"
            # Said before the record is completed: whoever sees the completed record can find this line too.
            log.info("call %s: ended (%s)", self.call_sid, outcome)
            try:
                await asyncio.wait_for(self.agent.close(outcome), CLOSE_TIMEOUT_S)
            except Exception:
                log.exception("call %s: could not complete the call record", self.call_sid)
        return outcome

    async def _begin(self) -> None:
        await self.agent.start()  # records the call's start
        self._spawn(self._watch(), "watch")
        if self.grant.resume == RESUME_CALLBACK:
            await self._offer_callback()
            return
        await self._play_parts(self.line.greeting.welcome)
        self._welcomed = True  # the silence before the menu counts from the welcome's end, not its rendering

    async def _play_parts(self, parts: list[SpokenPart]) -> None:
        cuts = self._cuts
        for part in parts:
            audio = await self.line.greeting.audio(part)
            if self._cuts != cuts:  # the caller spoke or pressed a key: stop talking, listen
                return
            await self.play(audio, part.text)

    async def play(self, audio: Audio, text: str) -> None:
        """Our own audio (greeting, menu), sent the way the agent sends its answers, so barge-in covers it."""
        agent = self.agent
        agent.speaker.played(audio)
        if agent.on_event:
            await agent.on_event(AgentEvent("audio", text, audio=audio))

    async def _offer_callback(self, question: str | None = None) -> None:
        """Back from an unanswered transfer (or after a fault): offer a callback; the agent takes the yes."""
        self.agent.offer_callback(question or await self.line.handover.take(self.call_sid))
        await self.agent.say_phrase("callback_offer")

    async def _wind_down(self, outcome: str) -> None:
        """After a fault with no staff to take over: a callback offer; whatever the caller answers (or if
        they say nothing), a goodbye ends the call with `outcome`."""
        self._winding_down = outcome
        await self._offer_callback(self.agent.earlier_question() or None)

    async def _tell_consent(self, language: str) -> None:
        """The transcript notice and how to object, in the caller's language, once (German and English
        callers heard it in the welcome)."""
        if self._consent_told or language in NOTICE_IN_WELCOME or self._closing:
            return
        if self.records is not None and self.records.objected:
            return
        self._consent_told = True
        await self.agent.say_phrase("consent_notice")

    async def _consent_after_answer(self, language: str) -> None:
        await self.agent.drain()  # behind the answer's audio
        await self._tell_consent(language)

    # --- what the pipeline reports -----------------------------------------------------------------------
    def bot_speaking(self) -> bool:
        return self.agent.bot_speaking()

    def on_key(self, key: str, interrupting: bool) -> None:
        """A key press; when it interrupts our audio, what it asks for is played once the line is clear."""
        self.on_caller_activity()
        self._cuts += 1
        follow_up: list[SpokenPart] = []
        if key == "*" and self.records:
            self.records.object()
            log.info("call %s: the caller objected to the transcript", self.call_sid)
            self._spawn(asyncio.to_thread(self.records.forget), "forget the transcript")
            follow_up = [self.line.greeting.objection_confirmed(self.agent.conversation.language)]
        elif key == "#":
            follow_up = self.line.greeting.menu
        if not follow_up:
            return
        if interrupting:
            self._after_interruption = follow_up
        else:
            self._spawn(self._play_parts(follow_up), "key")

    def on_reply(self, reply: Reply) -> None:
        self.on_caller_activity()
        if reply.intent == "error":
            self._spawn(self._after_answer(partial(self._fault_followup, reply.language), interruptible=False),
                        "fault follow-up")
        elif self._winding_down is not None and reply.action != "goodbye":
            outcome = self._winding_down
            self._spawn(self._after_answer(partial(self._say_then_end, "goodbye", outcome), interruptible=False),
                        "goodbye after a fault")
        elif reply.intent == "sms":  # the caller said yes to the links by SMS
            self._spawn(self._send_sms(), "text message")
        elif reply.action == "transfer":
            log.info("call %s: transfer asked for; after the caller has heard the reply", self.call_sid)
            self._spawn(self._after_answer(partial(self._transfer, reply.language), interruptible=True),
                        "transfer")
        elif reply.action == "goodbye":
            self._spawn(self._after_answer(partial(self._end, "goodbye"), interruptible=True), "goodbye")
        self.sms.declined = self.sms.declined or reply.intent == "sms_declined"
        offer = not self._closing and self._winding_down is None and self.sms.worth_offering(reply)
        if offer:
            self._spawn(self._offer_sms(reply), "SMS offer")
        if (reply.intent != "error" and reply.action in ("answer", "clarify") and not self._consent_told
                and reply.language not in NOTICE_IN_WELCOME and not offer):  # the offer tells it first
            self._spawn(self._consent_after_answer(reply.language), "consent notice")

    def on_caller_activity(self) -> None:
        self._activity(time.monotonic())
        self._prompted = False
        self._menu_due = False  # a caller who spoke or pressed a key knows what to do

    def on_interrupted(self) -> None:
        self._cuts += 1
        self.agent.speaker.interrupt()  # an answer still being synthesised stops, and is recorded as cut
        if self._after_interruption:
            parts, self._after_interruption = self._after_interruption, []
            self._spawn(self._play_parts(parts), "key")
        after, self._after = self._after, None
        if after and not after.interruptible:
            self._spawn(after.action(), "ending")

    def on_played(self, mark: str) -> None:
        self.agent.speaker.confirm()  # the answers before the mark were heard to the end
        if self._after and self._after.mark == mark:
            after, self._after = self._after, None
            self._spawn(after.action(), "after playback")

    def on_hang_up(self) -> None:
        if self.outcome is None:
            self.outcome = "protocol_error" if self.serializer.rejected else "hung_up"
        self.serializer.hang_up_on_end = False  # the call is over (or lives on elsewhere) already
        self._spawn(self.worker.cancel(), "cancel")
        self._spawn(self._stop_within(TEARDOWN_TIMEOUT_S), "teardown deadline")

    async def _stop_within(self, seconds: float) -> None:
        """A pipeline that has not stopped `seconds` after the hang-up is cancelled, so the call's record is
        completed and its slot freed even when a processor hangs on the way out."""
        await asyncio.sleep(seconds)
        running = self._running
        if running is not None and not running.done():
            log.warning("call %s: the pipeline had not stopped %.0f s after the hang-up; stopping it",
                        self.call_sid, seconds)
            running.cancel()

    # --- after the caller has heard it -------------------------------------------------------------------
    async def _after_answer(self, action: Callable[[], Awaitable[None]], interruptible: bool) -> None:
        await self.agent.drain()  # the answer's audio is all in the pipeline
        await self._after_playback(action, interruptible)

    async def _after_playback(self, action: Callable[[], Awaitable[None]], interruptible: bool) -> None:
        mark = f"after-{next(self._marks)}"
        log.debug("call %s: waiting for mark %s", self.call_sid, mark)
        self._after = _AfterPlayback(mark, action, interruptible)
        await self.playback.queue_frame(MarkAfterPlayback(mark=mark))
        # Twilio echoes the mark once played; if it never does, act a little after the audio must have ended.
        wait = max(0.0, self.agent.speaking_until - time.monotonic()) + self.line.policy.mark_grace_s
        self._spawn(self._mark_overdue(mark, wait), "mark timeout")

    async def _mark_overdue(self, mark: str, wait: float) -> None:
        await asyncio.sleep(wait)
        if self._after and self._after.mark == mark:
            log.warning("call %s: no mark %r from Twilio after %.1f s; going on", self.call_sid, mark, wait)
            self.on_played(mark)

    async def _say_then_end(self, phrase: str, outcome: str) -> None:
        self._closing = True
        await self.agent.say_phrase(phrase)
        await self._after_playback(partial(self._end, outcome), interruptible=False)

    async def _end(self, outcome: str) -> None:
        self._closing = True
        self.outcome = self.outcome or outcome
        await self.worker.queue_frame(EndFrame())  # flushes our audio; the serializer then hangs up

    async def _transfer(self, language: str, outcome: str = "transferred", apologised: bool = False) -> None:
        if self.outcome is not None:
            return
        self._closing = True
        # Set before the update: Twilio ends the stream as soon as the call has new TwiML.
        self.outcome, self.serializer.hang_up_on_end = outcome, False
        await self.line.handover.hold(self.call_sid, self.agent.earlier_question(), self.line.clock())
        try:
            await self.line.control.update(self.call_sid,
                                           twiml.dial(self.line.staff_line(language, self.call_sid)))
        except CallControlError as exc:
            log.error("call %s: transfer failed: %s", self.call_sid, exc)
            self.agent.recorder.note_error(f"transfer: {str(exc)[:300]}")
            self.outcome, self.serializer.hang_up_on_end, self._closing = None, True, False
            await self.line.handover.take(self.call_sid)  # the transfer never happened
            if not apologised:
                await self.agent.say_phrase("apology_fault")
            await self._wind_down("fault" if apologised else "transfer failed")
            return
        log.info("call %s: put through to staff", self.call_sid)
        await self._end(outcome)

    async def _fault_followup(self, language: str) -> None:
        """The agent has apologised for a fault: staff take over while open, else a callback offer and a
        goodbye; a second fault on the way out ends the call at once."""
        if self._winding_down is not None:
            await self._say_then_end("goodbye", self._winding_down)
        elif self.line.is_open():
            self._closing = True
            await self.agent.say_phrase("transfer")  # "I am connecting you with our staff": then, once heard
            await self._after_playback(partial(self._transfer, language, "fault, transferred", True),
                                       interruptible=False)
        else:
            await self._wind_down("fault")

    async def fault(self, reason: str) -> None:
        """An internal fault: Twilio's own voice apologises (ours may be what broke), then staff or goodbye."""
        log.error("call %s: internal fault: %s", self.call_sid, reason)
        if self.outcome is not None:
            return
        self.line.services.observer.error("call_fault")
        self._closing = True
        language = self.agent.conversation.language or self.line.settings.default_language
        transfer = self.line.is_open()
        self.outcome = "fault, transferred" if transfer else "fault"
        self.serializer.hang_up_on_end = False
        try:
            await self.line.control.update(self.call_sid, self.line.apology_twiml(language, transfer))
        except CallControlError as exc:
            log.error("call %s: could not hand the call to Twilio's apology: %s", self.call_sid, exc)
            self.outcome, self.serializer.hang_up_on_end = "fault", True
            try:  # then our own voice (the fallback one, if need be) apologises and says goodbye
                await self.agent.say_phrase("apology_fault")
                await self.agent.say_phrase("goodbye")
                await self._after_playback(partial(self._end, "fault"), interruptible=False)
                return
            except Exception:
                log.exception("call %s: the apology could not be spoken either", self.call_sid)
        await self.worker.queue_frame(EndFrame())

    # --- links by SMS ------------------------------------------------------------------------------------
    async def _offer_sms(self, reply: Reply) -> None:
        """Behind the answer's audio (and the transcript notice, if still due): "Shall I text you the links?"."""
        await self.agent.drain()
        await self._tell_consent(reply.language)
        if self._closing:
            return
        self.sms.offered = reply
        self.agent.offer_sms()
        await self.agent.say_phrase("sms_offer")

    async def _send_sms(self) -> None:
        """The caller consented: one message with the offered reply's links; the sending goes on record."""
        offered, self.sms.offered = self.sms.offered, None
        if offered is None or self.sms.sent or not self.sms.number:
            return
        self.sms.sent = True  # one per call, also when this one fails
        dialogue = self.line.services.dialogue
        message = link_message(offered, dialogue.knowledge.topics, dialogue.phrases)
        body = message.body(dialogue.phrases, self.line.settings.operator)
        try:
            await self.line.texts.send(self.call_sid, self.sms.number, body)
        except SmsError as exc:
            log.error("%s", exc)
            await self._record_status("sms failed")
            await self.agent.drain()  # behind "I am sending you the links"
            await self.agent.say_phrase("sms_failed")
            return
        await self._record_status("sms sent")

    async def _record_status(self, status: str) -> None:
        if self.records is None:
            return
        try:
            await asyncio.to_thread(self.records.add_status, self.call_sid, status, self.line.clock())
        except Exception:
            log.exception("call %s: could not record status %r", self.call_sid, status)

    # --- silence and the maximum length ------------------------------------------------------------------
    async def _watch(self) -> None:
        started = time.monotonic()
        policy = self.line.policy
        while True:  # until the call's tasks are cancelled: an ending that fails (a refused transfer) goes on
            await asyncio.sleep(WATCH_INTERVAL_S)
            now = time.monotonic()
            if (heard := self.agent.heard_s) != self._heard[0]:
                self._heard = (heard, now)
            if self._closing:
                continue
            if now - started >= policy.max_call_s:
                log.info("call %s: maximum length reached", self.call_sid)
                await self._say_then_end("goodbye", "max_length")
                return
            # While a turn is recognised or answered (slow under load) the quiet is ours, not the caller's.
            if self.agent.caller_speaking() or self.agent.bot_speaking() or self.agent.working():
                self._activity(now)
                if self.agent.caller_speaking():
                    self._menu_due = False
            elif self._menu_due and self._welcomed and self._quiet_s(now) >= policy.menu_after_silence_s:
                self._menu_due = False
                self._activity(now)
                await self._play_parts(self.line.greeting.menu)
            elif self._quiet_s(now) >= policy.silence_prompt_s:
                self._activity(now)
                if self._prompted or self._winding_down is not None:
                    await self._say_then_end("goodbye", self._winding_down or "silence")
                    return
                self._prompted = True
                self.agent.sms_offered = False  # a "yes" to "any more questions?" is no consent to an SMS
                await self.agent.say_phrase("ask_more")

    def _activity(self, now: float) -> None:
        self._last_activity, self._heard_at_activity = now, self.agent.heard_s

    def _quiet_s(self, now: float) -> float:
        """How long the caller has been quiet as far as we have heard them: on the caller's own audio clock
        where it runs behind ours (a busy server still reading audio that arrived seconds ago must not take
        its backlog for silence, nor prompt or hang up on a caller whose goodbye it has not read yet); on ours
        where their audio stopped coming at all (a dead line is silent too)."""
        heard, moved = self._heard
        wall = now - self._last_activity
        if now - moved >= self.line.policy.silence_prompt_s:
            return wall
        return min(wall, heard - self._heard_at_activity)

    # --- tasks -------------------------------------------------------------------------------------------
    def _spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.create_task(self._guard(work, what), name=f"{self.call_sid} {what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, work: Coroutine[Any, Any, None], what: str) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("call %s: %s failed", self.call_sid, what)
            if what != "fault":
                await self.fault(f"{what}: {type(exc).__name__}: {exc}")

    async def _cancel_tasks(self) -> None:
        current = asyncio.current_task()
        tasks = [task for task in self._tasks if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
