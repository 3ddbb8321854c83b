"""Twilio's webhooks and media socket under /twilio, as one router the app mounts.

    app.include_router(create_twilio_router(settings, voice_services, sink=store))

- POST /twilio/voice: a call comes in. Signed by Twilio or 403. TwiML connects the call's audio to
  /twilio/media with a per-call token, or, when every line is taken, a polite message (and staff, if in).
- WS /twilio/media: the call's audio both ways (Media Streams), one `PhoneCall` per socket.
- POST /twilio/status: call status callbacks, recorded with the call.
- POST /twilio/whisper: staff picked up a transfer; TwiML tells them, in German, the caller's language and
  question before the call is bridged (`telephony.whisper`).
- POST /twilio/dial-result: a transfer ended; if staff did not answer, the caller comes back to the bot.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import Response
from starlette.datastructures import FormData

from pipeline.records import CallRecord, TranscriptSink
from pipeline.services import VoiceServices
from telephony import twiml
from telephony.call import POLICY_VIOLATION, PhoneCall
from telephony.capacity import CallSlots, SeenCalls
from telephony.config import TelephonySettings
from telephony.greeting import PhoneGreeting
from telephony.handover import Handover, QuestionsInMemory, TransferQuestions
from telephony.line import PHONE_RATE, CallPolicy, Clock, PhoneLine
from telephony.protocol import StreamRejected, read_stream_start
from telephony.rest import CallControl
from telephony.signatures import WebhookVerifier
from telephony.sms import TextMessages
from telephony.tokens import DEFAULT_TTL_S, RESUME_CALLBACK, InvalidStreamToken, StreamGrant, StreamTokens
from telephony.whisper import Whisper

log = logging.getLogger("hotline.twilio")
# Dial outcomes after which the caller is done (staff talked to them, or the caller hung up while it rang).
DIAL_FINISHED = ("completed", "answered", "canceled")


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_twilio_router(
    settings: TelephonySettings,
    voice: VoiceServices,
    sink: TranscriptSink | None = None,
    *,
    clock: Clock = utc_now,
    policy: CallPolicy | None = None,
    control: CallControl | None = None,
    token_ttl_s: float = DEFAULT_TTL_S,
    prepare_greeting: bool = True,
    transfers: TransferQuestions | None = None,
    known_calls: Callable[[str], bool] | None = None,
) -> APIRouter:
    """The phone channel. `clock` decides opening hours (tests pass a fixed moment). `transfers` keeps the
    questions of callers put through to staff; by default `sink` does, when it can (every instance sees them).
    `known_calls` says whether a call SID was recorded before (the store's view, shared by every instance), so a
    replayed voice webhook gets no stream on another instance either."""
    twilio = settings.twilio
    policy = policy or CallPolicy.from_settings(settings)
    control = control or CallControl(twilio.account_sid, twilio.auth_token, twilio.api_base_url)
    line = PhoneLine(
        settings=settings, services=voice, sink=sink, clock=clock, control=control,
        tokens=StreamTokens.from_auth_token(twilio.auth_token, token_ttl_s),
        slots=CallSlots(settings.telephony.max_concurrent_calls, hold_s=token_ttl_s),
        seen=SeenCalls(known=known_calls),
        verifier=WebhookVerifier(twilio.auth_token, settings.server.public_url),
        greeting=PhoneGreeting(voice, PHONE_RATE, settings.telephony.welcome_pace), policy=policy,
        handover=Handover(transfers or (sink if isinstance(sink, TransferQuestions) else QuestionsInMemory())),
        texts=TextMessages(control.client, twilio.sms_from),
    )
    if prepare_greeting:
        # The first caller should not wait for the greeting to be synthesised.
        threading.Thread(target=line.greeting.prepare, name="render phone greeting").start()
    router = APIRouter(prefix=line.prefix, tags=["telephony"])
    router.add_api_route("/voice", _voice_webhook(line), methods=["POST"], include_in_schema=False)
    router.add_api_route("/status", _status_webhook(line), methods=["POST"], include_in_schema=False)
    router.add_api_route("/whisper", _whisper_webhook(line), methods=["POST"], include_in_schema=False)
    router.add_api_route("/dial-result", _dial_result_webhook(line), methods=["POST"], include_in_schema=False)
    router.add_api_websocket_route("/media", _media_socket(line))
    router.add_api_websocket_route("/media/{instance}", _media_socket(line))
    return router


def _xml(body: str) -> Response:
    return Response(content=body, media_type="application/xml")


def _refused(line: PhoneLine) -> Response:
    """A webhook without Twilio's signature (the verifier logged why): counted, and 403 with nothing else."""
    line.services.observer.error("webhook_refused")
    return Response(status_code=403)


def _voice_webhook(line: PhoneLine):
    async def voice(request: Request) -> Response:
        form = await line.verifier.signed_form(request)
        if form is None:
            return _refused(line)
        call_sid = str(form.get("CallSid") or "")
        if not call_sid:
            return Response("CallSid missing", status_code=400)
        if not await asyncio.to_thread(line.seen.first_time, call_sid):
            # A signed request we answered before: a replay (or a client bug). Never a second stream.
            log.warning("call %s: voice webhook for a call already seen; no second stream", call_sid)
            line.services.observer.error("webhook_replayed")
            return _xml(twiml.hang_up())
        if not line.slots.reserve(call_sid, _caller(form)):
            log.warning("call %s: all %d lines busy; polite message instead", call_sid, line.slots.limit)
            await _record_unstreamed(line, call_sid, "busy, transferred" if line.is_open() else "busy")
            return _xml(line.busy_twiml())
        token = line.tokens.issue(StreamGrant(call_sid=call_sid))
        return _xml(twiml.stream(line.stream_url, token))

    return voice


def _status_webhook(line: PhoneLine):
    async def status(request: Request) -> Response:
        form = await line.verifier.signed_form(request)
        if form is None:
            return _refused(line)
        call_sid, call_status = str(form.get("CallSid") or ""), str(form.get("CallStatus") or "")
        if call_sid and call_status:
            await _record_status(line, call_sid, call_status)
        return Response(status_code=204)

    return status


async def _record_status(line: PhoneLine, call_sid: str, status: str) -> None:
    """Keep a status Twilio reported with the call; a store that fails is logged, Twilio still gets its answer."""
    if line.sink is None:
        return
    try:
        await asyncio.to_thread(line.sink.add_status, call_sid, status, line.clock())
    except Exception:
        log.exception("call %s: could not record status %r", call_sid, status)


def _whisper_webhook(line: PhoneLine):
    async def whisper(request: Request) -> Response:
        form = await line.verifier.signed_form(request)
        if form is None:
            return _refused(line)
        # Twilio requests the <Number url> with the staff leg's CallSid; the caller's is ParentCallSid (and in
        # our query, which the signature covers).
        call_sid = request.query_params.get("call") or str(form.get("ParentCallSid") or "")
        language = request.query_params.get("lang")
        language = language if language in line.settings.languages else line.settings.default_language
        question = await line.handover.peek(call_sid) if call_sid else None
        log.info("call %s: whisper to staff (%s, %s)", call_sid or "?", language,
                 "with the question" if question else "no question")  # never the question itself
        return _xml(twiml.whisper(Whisper(language, question).text()))

    return whisper


def _dial_result_webhook(line: PhoneLine):
    async def dial_result(request: Request) -> Response:
        form = await line.verifier.signed_form(request)
        if form is None:
            return _refused(line)
        call_sid = str(form.get("CallSid") or "")
        outcome = str(form.get("DialCallStatus") or "")
        language = request.query_params.get("lang")
        language = language if language in line.settings.languages else line.settings.default_language
        if call_sid:
            await _record_status(line, call_sid, f"dial {outcome}")
        if outcome in DIAL_FINISHED or not call_sid:
            if call_sid:
                await line.handover.take(call_sid)  # staff took the caller: the question is no longer needed
            return _xml(twiml.hang_up())
        log.info("call %s: staff did not answer (%s); back to the bot", call_sid, outcome)
        if not line.slots.reserve(call_sid, _caller(form)):
            return _xml(line.apology_twiml(language, transfer=False))
        grant = StreamGrant(call_sid=call_sid, language=language, resume=RESUME_CALLBACK)
        return _xml(twiml.stream(line.stream_url, line.tokens.issue(grant)))

    return dial_result


def _media_socket(line: PhoneLine):
    async def media(websocket: WebSocket) -> None:
        await websocket.accept()
        peer = websocket.client.host if websocket.client else "?"
        meant_for = websocket.path_params.get("instance")
        try:
            if meant_for is not None and meant_for != line.settings.server.instance:
                raise StreamRejected(f"the stream was offered by instance {meant_for!r}, this is "
                                     f"{line.settings.server.instance!r}: check the proxy's /twilio/media/ routing")
            stream = await read_stream_start(websocket)
            if stream.account_sid != line.settings.twilio.account_sid:
                raise StreamRejected(f"account {stream.account_sid!r} is not ours")
            grant = line.tokens.verify(stream.custom_parameters.get(twiml.TOKEN_PARAMETER), stream.call_sid)
            if not line.slots.connect(stream.call_sid):
                raise StreamRejected("no stream was promised to this call (or it is already connected)")
        except (StreamRejected, InvalidStreamToken) as exc:
            log.warning("media socket from %s refused: %s", peer, exc)
            line.services.observer.error("media_refused")
            with suppress(Exception):
                await websocket.close(code=POLICY_VIOLATION)
            return
        try:
            await PhoneCall(websocket, stream, grant, line, line.slots.caller_number(stream.call_sid)).run()
        except Exception:
            log.exception("call %s: the call failed", stream.call_sid)
            with suppress(Exception):
                await websocket.close()
        finally:
            line.slots.release(stream.call_sid)

    return media


def _caller(form: FormData) -> str | None:
    number = str(form.get("From") or "")
    return number or None


async def _record_unstreamed(line: PhoneLine, call_sid: str, outcome: str) -> None:
    """A call we could not take still belongs in the statistics (without the caller's number)."""
    line.services.observer.call_refused("phone", outcome)
    if not line.sink:
        return
    sink, now = line.sink, line.clock()
    try:
        await asyncio.to_thread(sink.start_call, CallRecord(call_sid, "phone", now))
        await asyncio.to_thread(sink.end_call, call_sid, now, outcome)
    except Exception:
        log.exception("call %s: could not record the busy call", call_sid)
