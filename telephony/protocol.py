"""Twilio's Media Streams protocol at the edge of our pipeline; its JSON goes no further than this module.

Twilio sends `connected`, `start`, then `media` (20 ms of 8 kHz mu-law each), `dtmf`, `mark` (echoes of the
marks we sent, once the audio before them has played) and `stop`. We send `media`, `mark` and `clear`.

pipecat's `parse_telephony_websocket` is lenient by design (it guesses the provider and skips what it cannot
read) and does not return the media format, so the handshake is read strictly here instead: a socket that is
not a Twilio stream for a call we promised is refused before any pipeline exists for it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from pipecat.frames.frames import CancelFrame, EndFrame, Frame, OutputTransportMessageFrame, SystemFrame
from pipecat.serializers.twilio import TwilioFrameSerializer

log = logging.getLogger("hotline.twilio")

ENCODING = "audio/x-mulaw"
SAMPLE_RATE = 8000
HANDSHAKE_TIMEOUT_S = 10.0
MAX_MESSAGE_CHARS = 64_000  # a 20 ms media message is ~250 characters; this is generous
DTMF_KEYS = frozenset("0123456789*#")
EVENTS = frozenset({"connected", "start", "media", "dtmf", "mark", "stop"})


class StreamRejected(Exception):
    """The socket is not a usable Twilio stream; the message says why (for the log)."""


class MalformedMessage(ValueError):
    """A message mid-stream that Twilio would never send: the socket is closed."""


@dataclass(frozen=True)
class StreamStart:
    stream_sid: str
    call_sid: str
    account_sid: str
    custom_parameters: dict[str, str] = field(default_factory=dict)


@dataclass
class PlaybackMarkFrame(SystemFrame):
    """Twilio played everything we sent before the mark named `mark` (`Frame.name` is pipecat's own)."""

    mark: str = ""


@dataclass
class CallerHungUpFrame(SystemFrame):
    """Twilio ended the stream (the caller hung up, or the call moved on)."""


def mark_frame(stream_sid: str, name: str) -> OutputTransportMessageFrame:
    """A mark to send after audio: a data frame, so it leaves in order behind the audio queued before it."""
    return OutputTransportMessageFrame(message={"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


async def read_stream_start(websocket: WebSocket, timeout_s: float = HANDSHAKE_TIMEOUT_S) -> StreamStart:
    """Read `connected` (optional) and `start`; raise `StreamRejected` for anything else."""
    try:
        async with asyncio.timeout(timeout_s):
            for _ in range(2):
                message = parse_message(await _receive_text(websocket))
                if message["event"] == "start":
                    return _stream_start(message)
                if message["event"] != "connected":
                    raise StreamRejected(f"expected 'start', got {message['event']!r}")
    except TimeoutError:
        raise StreamRejected(f"no 'start' message within {timeout_s:.0f} s") from None
    except MalformedMessage as exc:
        raise StreamRejected(str(exc)) from None
    raise StreamRejected("no 'start' message after 'connected'")


def parse_message(text: str) -> dict[str, Any]:
    if len(text) > MAX_MESSAGE_CHARS:
        raise MalformedMessage(f"message of {len(text)} characters")
    try:
        message = json.loads(text)
    except (json.JSONDecodeError, RecursionError):  # nesting too deep to parse is no JSON Twilio sends
        raise MalformedMessage("not JSON") from None
    event = message.get("event") if isinstance(message, dict) else type(message).__name__
    if not isinstance(event, str) or event not in EVENTS:  # a list or object as the event is unhashable
        raise MalformedMessage(f"not a Media Streams event ({str(event)[:40]!r})")
    return message


async def _receive_text(websocket: WebSocket) -> str:
    try:
        message = await websocket.receive()
    except WebSocketDisconnect:
        raise StreamRejected("closed before 'start'") from None
    if message["type"] == "websocket.disconnect":
        raise StreamRejected("closed before 'start'")
    if message.get("text") is None:
        raise StreamRejected("binary message: Twilio sends JSON text")
    return str(message["text"])


def _stream_start(message: dict[str, Any]) -> StreamStart:
    start = message.get("start")
    if not isinstance(start, dict):
        raise StreamRejected("'start' message without a 'start' object")
    ids = {key: start.get(key) for key in ("streamSid", "callSid", "accountSid")}
    missing = [key for key, value in ids.items() if not isinstance(value, str) or not value]
    if missing:
        raise StreamRejected(f"'start' lacks {', '.join(missing)}")
    media = start.get("mediaFormat")
    if not isinstance(media, dict):
        raise StreamRejected("'start' lacks mediaFormat")
    codec = (media.get("encoding"), media.get("sampleRate"), media.get("channels"))
    if codec != (ENCODING, SAMPLE_RATE, 1):
        raise StreamRejected(f"unsupported media format {codec}; expected ({ENCODING!r}, {SAMPLE_RATE}, 1)")
    parameters = start.get("customParameters") or {}
    if not isinstance(parameters, dict):
        raise StreamRejected("customParameters is not an object")
    return StreamStart(
        stream_sid=str(ids["streamSid"]), call_sid=str(ids["callSid"]), account_sid=str(ids["accountSid"]),
        custom_parameters={str(k): str(v) for k, v in parameters.items()},
    )


class TwilioMediaSerializer(TwilioFrameSerializer):
    """pipecat's Twilio serializer, strict about what it accepts and aware of marks, `stop` and transfers.

    Raising from `deserialize` ends the transport's receive loop (logged by pipecat), which the call treats
    as the caller leaving: one bad socket never reaches another call.
    """

    def __init__(self, start: StreamStart, auth_token: str, api_base_url: str) -> None:
        super().__init__(
            start.stream_sid, start.call_sid, start.account_sid, auth_token, base_url=api_base_url,
            params=TwilioFrameSerializer.InputParams(twilio_sample_rate=SAMPLE_RATE, auto_hang_up=True),
        )
        self.stream = start
        # False once the call lives on elsewhere (staff, Twilio's own <Say>) or is over already: ending our
        # pipeline must not hang it up then.
        self.hang_up_on_end = True
        self.rejected: str | None = None  # why the socket was closed mid-stream, if it was

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if not self.hang_up_on_end and isinstance(frame, (EndFrame, CancelFrame)):
            return None
        return await super().serialize(frame)

    async def deserialize(self, data: str | bytes) -> Frame | None:
        try:
            return await self._deserialize(data)
        except MalformedMessage as exc:
            log.warning("call %s: closing the media socket: %s", self.stream.call_sid, exc)
            self.rejected = str(exc)
            raise

    async def _deserialize(self, data: str | bytes) -> Frame | None:
        if not isinstance(data, str):
            raise MalformedMessage("binary message")
        message = parse_message(data)
        event = message["event"]
        if event == "media":
            payload = (message.get("media") or {}).get("payload") if isinstance(message.get("media"), dict) else None
            if not isinstance(payload, str):
                raise MalformedMessage("media without a payload")
            try:
                base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                raise MalformedMessage("media payload is not base64") from None
            return await super().deserialize(data)
        if event == "dtmf":
            digit = message.get("dtmf", {}).get("digit") if isinstance(message.get("dtmf"), dict) else None
            if not isinstance(digit, str) or digit not in DTMF_KEYS:  # a list or object is unhashable
                raise MalformedMessage(f"dtmf digit {str(digit)[:8]!r}")
            return await super().deserialize(data)
        if event == "mark":
            mark = message.get("mark")
            name = mark.get("name") if isinstance(mark, dict) else None
            return PlaybackMarkFrame(mark=str(name)) if name else None
        if event == "stop":
            return CallerHungUpFrame()
        return None  # a repeated `connected`/`start`: nothing to do
