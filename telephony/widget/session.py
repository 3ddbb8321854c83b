"""One visitor's socket: limits and parsing on the way in, the voice agent's events on the way out.

A reader task checks every frame as it arrives (size, rate, form) and queues it; a worker feeds the queue to
the agent in order. Answers are prepared beside the worker (the agent's live mode), so the visitor can speak
over an answer and stop it. Anything wrong with a frame ends this session only.

The conversation's turns are written as they happen, through `ConsentedRecords`: the panel's "keep no
transcript" switch deletes what was kept and keeps nothing more. A visitor who closes the panel mid-answer
leaves the turn on record, marked as cut. A callback that cannot be stored is reported, the session goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

import numpy as np
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from pipeline.dialogue import Dialogue, Reply
from pipeline.records import CallbackRequest, TranscriptSink
from telephony.consent import ConsentedRecords
from telephony.widget.config import WidgetConfig
from telephony.widget.limits import LimitExceeded, SessionLimits
from telephony.widget.protocol import (
    SAMPLE_RATE,
    CallbackForm,
    ChooseLanguage,
    ClientMessage,
    EndOfSpeech,
    Hello,
    ProtocolError,
    StaffInfoRequest,
    TranscriptChoice,
    TypedQuestion,
    callback_problem,
    decode_audio,
    encode_audio,
    message,
    parse_message,
)
from telephony.widget.staff import staff_info

log = logging.getLogger("hotline.widget")
AUDIO_CHUNK_SAMPLES = SAMPLE_RATE  # answer audio goes out in frames of at most one second
STALE_PARTIAL_S = 1.0  # a new turn cannot have a caption this soon after the last one ended
# WebSocket close codes (RFC 6455): normal, unsupported data, policy violation, too big, internal, try later.
NORMAL, UNSUPPORTED, POLICY, TOO_BIG, INTERNAL, TRY_LATER = 1000, 1003, 1008, 1009, 1011, 1013


class Agent(Protocol):
    """What a session needs of `pipeline.voice_agent.VoiceAgent` (live mode: events go to `on_event`)."""

    replies: list[Reply]

    async def start(self, greeting: str | None = None) -> list[Any]: ...

    async def feed(self, samples: np.ndarray) -> list[Any]: ...

    async def end_of_speech(self) -> list[Any]: ...

    async def text(self, text: str) -> list[Any]: ...

    def choose_language(self, language: str) -> None: ...

    async def close(self, outcome: str) -> None: ...


EventHandler = Callable[[Any], Awaitable[None]]
AgentFactory = Callable[[str, EventHandler, TranscriptSink | None], Agent]  # (call id, on_event, sink) -> agent


class SessionEnd(Exception):
    """Why a session stops: the outcome recorded for the call, the close code, and what the visitor is told."""

    def __init__(self, outcome: str, code: int, error: str | None = None, detail: str = "") -> None:
        super().__init__(detail or outcome)
        self.outcome, self.code, self.error, self.detail = outcome, code, error, detail


class WidgetSession:
    def __init__(self, websocket: WebSocket, call_id: str, make_agent: AgentFactory, dialogue: Dialogue,
                 sink: TranscriptSink | None, config: WidgetConfig, clock: Callable[[], datetime]) -> None:
        self.ws = websocket
        self.call_id = call_id
        self.make_agent = make_agent
        self.dialogue = dialogue
        self.sink = sink
        self.records = ConsentedRecords(sink, call_id) if sink is not None else None
        self.config = config
        self.clock = clock
        self.limits = SessionLimits(config)
        self.language = dialogue.settings.default_language  # the panel's language; the agent detects its own
        self.agent: Agent | None = None
        self._queue: asyncio.Queue[np.ndarray | ClientMessage] = asyncio.Queue(maxsize=512)
        self._send_lock = asyncio.Lock()
        self._answers: set[asyncio.Task[None]] = set()
        self._gone = False  # the socket was closed under us; nothing more is sent
        self._typed = asyncio.Lock()  # typed questions are answered one after the other
        self._captioned = ""  # the last text shown as a caption, so its audio is not captioned twice
        self._final = ""  # the last final transcript sent, and when
        self._final_at = float("-inf")
        self.outcome = "completed"

    # --- the session's life ---------------------------------------------------------------------------
    async def run(self) -> str:
        await self.ws.accept()
        deadline = asyncio.timeout(self.config.session_limit_s)
        try:
            try:
                async with deadline:
                    await self._begin(await self._hello())
                    await self._serve()
            except TimeoutError:
                if not deadline.expired():
                    raise
                raise SessionEnd("time_limit", NORMAL, "time_limit", "the session time limit was reached") from None
        except SessionEnd as end:
            await self._end(end)
        except WebSocketDisconnect:
            self.outcome = "completed"
        except Exception:
            log.exception("widget %s: session failed", self.call_id)
            await self._end(SessionEnd("error", INTERNAL, "internal", "an internal error ended the session"))
        finally:
            if self.agent is not None:
                try:
                    # First: an answer being spoken is recorded as cut by the visitor leaving.
                    await self.agent.close(self.outcome)
                except Exception:
                    log.exception("widget %s: closing the agent failed", self.call_id)
            for task in list(self._answers):
                task.cancel()
        return self.outcome

    async def refuse(self, outcome: str, code: int, error: str, detail: str) -> None:
        """Turn the visitor away before the conversation starts (the server is full)."""
        await self.ws.accept()
        await self._end(SessionEnd(outcome, code, error, detail))

    async def _hello(self) -> Hello:
        try:
            first = await asyncio.wait_for(self._receive(), self.config.hello_timeout_s)
        except TimeoutError:
            raise SessionEnd("no_hello", POLICY, "no_hello", f"no hello message within "
                             f"{self.config.hello_timeout_s:g} s of opening the socket") from None
        if not isinstance(first, Hello):
            raise SessionEnd("protocol_error", POLICY, "protocol", "the first message must be a hello")
        return first

    async def _begin(self, hello: Hello) -> None:
        served = self.dialogue.settings.languages
        if hello.lang in served:
            self.language = hello.lang
        if self.records is not None and not hello.transcript:
            self.records.object()  # nothing was written yet: nothing to forget
        self.agent = self.make_agent(self.call_id, self._on_event, self.records)
        await self.agent.start()
        phrases = self.dialogue.phrases
        await self._send_json("ready", lang=self.language, languages=[
            {"code": code, "name": phrases.say(code, "language_name")} for code in served
        ], greeting=self._greeting(self.language), staff=self._staff())

    def _greeting(self, language: str) -> str:
        return self.dialogue.phrases.say(language, "greeting", operator_name=self.dialogue.settings.operator.name)

    async def _serve(self) -> None:
        reader = asyncio.create_task(self._read(), name=f"widget-read-{self.call_id}")
        worker = asyncio.create_task(self._work(), name=f"widget-work-{self.call_id}")
        try:
            done, _ = await asyncio.wait({reader, worker}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # both loop until an exception ends them
        finally:
            for task in (reader, worker):
                task.cancel()
            await asyncio.gather(reader, worker, return_exceptions=True)

    async def _end(self, end: SessionEnd) -> None:
        self.outcome = end.outcome
        if end.outcome != "completed":
            log.info("widget %s: ending session: %s (%s)", self.call_id, end.outcome, end.detail)
        if end.error:
            await self._send_json("error", code=end.error, message=end.detail, fatal=True)
        if self.ws.application_state == WebSocketState.CONNECTED:
            try:
                await self.ws.close(end.code)
            except (RuntimeError, WebSocketDisconnect):
                pass

    # --- in -------------------------------------------------------------------------------------------
    async def _receive(self) -> np.ndarray | ClientMessage:
        """The next frame, checked against the limits and parsed; raises `SessionEnd` for a bad one."""
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        data, text = message.get("bytes"), message.get("text")
        try:
            if data is not None:
                self.limits.check_audio(len(data))
                return decode_audio(data)
            if text is not None:
                self.limits.check_text(len(text.encode("utf-8")))
                return parse_message(text)
        except LimitExceeded as exc:
            code = TOO_BIG if exc.code == "frame_too_big" else POLICY
            raise SessionEnd(exc.code, code, exc.code, str(exc)) from None
        except ProtocolError as exc:
            raise SessionEnd("protocol_error", UNSUPPORTED, "protocol", str(exc)) from None
        raise SessionEnd("protocol_error", UNSUPPORTED, "protocol", "an empty frame")

    async def _read(self) -> None:
        while True:
            try:
                item = await asyncio.wait_for(self._receive(), self.config.idle_limit_s)
            except TimeoutError:
                raise SessionEnd("idle", NORMAL, "idle", "nothing arrived for too long") from None
            if isinstance(item, Hello):
                raise SessionEnd("protocol_error", UNSUPPORTED, "protocol", "hello may be sent only once")
            if isinstance(item, ChooseLanguage) and item.lang not in self.dialogue.settings.languages:
                raise SessionEnd("protocol_error", UNSUPPORTED, "protocol", f"language {item.lang!r} is not served")
            if isinstance(item, TypedQuestion):
                try:
                    self.limits.check_question()
                except LimitExceeded as exc:
                    await self._send_json("error", code=exc.code, message=str(exc), fatal=False)
                    continue
            await self._queue.put(item)

    async def _work(self) -> None:
        assert self.agent is not None
        while True:
            item = await self._queue.get()
            if isinstance(item, np.ndarray):
                await self.agent.feed(item)
            elif isinstance(item, EndOfSpeech):
                # Press-to-talk was released: the turn ends now (no silence or turn model to wait for).
                await self.agent.end_of_speech()
            elif isinstance(item, TypedQuestion):
                self._spawn(self._typed_question(item.text))
            elif isinstance(item, ChooseLanguage):
                self.agent.choose_language(item.lang)
                self.language = item.lang
                await self._send_json("language", lang=item.lang, greeting=self._greeting(item.lang),
                                      staff=self._staff())
            elif isinstance(item, StaffInfoRequest):
                await self._send_json("staff", **self._staff())
            elif isinstance(item, CallbackForm):
                await self._callback(item)
            elif isinstance(item, TranscriptChoice):
                await self._transcript(item.keep)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _typed_question(self, text: str) -> None:
        assert self.agent is not None
        async with self._typed:
            try:
                await self.agent.text(text)
            except Exception:
                log.exception("widget %s: typed question failed", self.call_id)
                await self._send_json("error", code="internal", message="the question could not be answered",
                                      fatal=False)

    async def _callback(self, form: CallbackForm) -> None:
        problem = callback_problem(form)
        if problem:
            await self._send_json("error", code="callback_invalid", field=problem, fatal=False,
                                  message=f"the callback form's {problem} field needs attention")
            return
        try:
            self.limits.check_callback()
        except LimitExceeded as exc:
            await self._send_json("error", code=exc.code, message=str(exc), fatal=False)
            return
        if self.sink is None:
            await self._send_json("error", code="callback_unavailable", fatal=False,
                                  message="callback requests are not stored on this server")
            return
        question = form.question or self._last_question()
        request = CallbackRequest(self.call_id, self.language, question, self.clock(), number=form.phone or None,
                                  name=form.name or None, email=form.email or None)
        try:
            await asyncio.to_thread(self.sink.add_callback, request)
        except Exception as exc:  # noqa: BLE001 - the visitor hears of it and the conversation goes on
            log.error("widget %s: the callback request could not be stored (%s)", self.call_id, type(exc).__name__)
            await self._send_json("error", code="callback_failed", fatal=False,
                                  message="the callback request could not be stored; please call us instead")
            return
        log.info("widget %s: callback request stored", self.call_id)
        await self._send_json("callback", status="saved")

    async def _transcript(self, keep: bool) -> None:
        """The panel's switch: off deletes what was written of this conversation and keeps nothing more."""
        if self.records is None:
            await self._send_json("transcript", keep=False)
            return
        if keep:
            self.records.resume()
        else:
            self.records.object()
            log.info("widget %s: the visitor objected to the transcript", self.call_id)
            try:
                await asyncio.to_thread(self.records.forget)
            except Exception as exc:  # noqa: BLE001 - nothing more is written either way
                log.error("widget %s: the transcript could not be deleted (%s)", self.call_id, type(exc).__name__)
        await self._send_json("transcript", keep=keep)

    def _last_question(self) -> str:
        replies = self.agent.replies if self.agent else []
        return next((r.question for r in reversed(replies) if r.question), "")

    def _staff(self) -> dict[str, Any]:
        return staff_info(self.dialogue, self.language, self.clock())

    # --- out ------------------------------------------------------------------------------------------
    async def _on_event(self, event: Any) -> None:
        """The agent's events as the browser sees them; a closed socket drops them quietly."""
        try:
            await self._forward(event)
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            log.debug("widget %s: event %s not sent: %s", self.call_id, event.kind, exc)

    async def _forward(self, event: Any) -> None:
        kind = event.kind
        if kind == "partial":
            # A caption of the turn just ended that finished after its final transcript is old news.
            stale = event.text == self._final or time.monotonic() - self._final_at < STALE_PARTIAL_S
            if not stale:
                await self._send_json("partial", text=event.text)
        elif kind == "final":
            self._final, self._final_at = event.text, time.monotonic()
            await self._send_json("final", text=event.text)
        elif kind == "reply" and event.reply is not None:
            reply: Reply = event.reply
            self._captioned = reply.answer
            if reply.language in self.dialogue.settings.languages:
                self.language = reply.language
            # A fault's apology points to staff too: the way out the phone offers by transferring.
            wants_staff = reply.action in ("transfer", "closed") or reply.intent == "error"
            extra = {"staff": self._staff()} if wants_staff else {}
            await self._send_json("reply", **reply_payload(reply), **extra)
        elif kind == "audio" and event.audio is not None:
            if event.text and event.text != self._captioned:
                self._captioned = event.text
                await self._send_json("reply", language=self.language, action="say", answer=event.text,
                                      topic=None, sources=[], details="")
            samples = event.audio.at_rate(SAMPLE_RATE).samples
            for start in range(0, len(samples), AUDIO_CHUNK_SAMPLES):
                await self._send_bytes(encode_audio(samples[start:start + AUDIO_CHUNK_SAMPLES]))
        elif kind == "barge_in":
            await self._send_json("barge_in")

    async def _send_json(self, kind: str, **fields: Any) -> None:
        await self._send(self.ws.send_text, message(kind, **fields))

    async def _send_bytes(self, data: bytes) -> None:
        await self._send(self.ws.send_bytes, data)

    async def _send(self, send: Any, data: str | bytes) -> None:
        async with self._send_lock:
            if self._gone or self.ws.application_state != WebSocketState.CONNECTED:
                return
            try:
                await send(data)
            except (RuntimeError, WebSocketDisconnect):
                # The visitor left, or the server closed the socket under us (a frame it could not read: 1007,
                # 1009) while the app still thought it open: what is left to send has no one to go to. The reader sees the close
                # and ends the session as the visitor leaving; nothing here is a fault.
                self._gone = True


def reply_payload(reply: Reply) -> dict[str, Any]:
    """What the panel shows of a reply: the answer, its sources as links (http and https only), details."""
    return {
        "language": reply.language,
        "action": reply.action,
        "answer": reply.answer,
        "topic": reply.topic,
        "question": reply.question,
        "details": reply.details,
        "sources": [{"title": s.title, "url": s.url} for s in reply.sources
                    if s.url.startswith(("https://", "http://"))],
    }
