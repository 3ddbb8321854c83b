"""A Twilio stand-in for tests and local runs: signed webhooks and a Media Streams socket, as Twilio does them.

Webhooks are signed with the `twilio` library's own `RequestValidator.compute_signature` over the URL the
server is configured to be reached at (its public URL), exactly as Twilio signs them. The media socket sends
`connected` and `start`, then 20 ms of 8 kHz mu-law every 20 ms (the caller's speech when there is some,
silence otherwise, as a phone line does), `dtmf` for key presses and `stop` on hang-up. Audio coming back is
"played" in real time like a handset would: a `mark` is echoed when the audio before it has played, and a
`clear` drops what has not played yet and echoes the pending marks at once.

>>> twilio = TwilioSimulator("http://127.0.0.1:8000", account_sid, auth_token)
>>> call = await twilio.incoming_call(from_number="+4915100000000")
>>> async with call.connect() as line:
...     await line.say(question)
...     await line.wait_for_answer()
...     heard = line.heard(since=line.spoken_until)
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import ssl
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import numpy as np
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from voice.audio import PHONE_RATE, Audio, mulaw_to_pcm16, pcm16_to_mulaw

log = logging.getLogger("hotline.simulator")
CHUNK_S = 0.02
CHUNK_SAMPLES = int(PHONE_RATE * CHUNK_S)
SILENCE = bytes([0xFF]) * CHUNK_SAMPLES  # mu-law zero


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature for a POST to `url` with form `params`."""
    return RequestValidator(auth_token).compute_signature(url, params)


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass(frozen=True)
class TwimlReply:
    """What the server answered a webhook with: the parts of the TwiML a test looks at."""

    status: int
    body: str
    stream_url: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    says: tuple[str, ...] = ()
    say_languages: tuple[str, ...] = ()
    dial_number: str | None = None
    dial_attributes: dict[str, str] = field(default_factory=dict)
    number_attributes: dict[str, str] = field(default_factory=dict)  # the <Number>'s: url is the whisper

    @classmethod
    def parse(cls, status: int, body: str) -> TwimlReply:
        if status != 200 or not body.strip():
            return cls(status, body)
        root = ET.fromstring(body)
        stream = root.find("./Connect/Stream")
        dial = root.find("./Dial")
        number = dial.find("./Number") if dial is not None else None
        return cls(
            status, body,
            stream_url=stream.get("url") if stream is not None else None,
            parameters={p.get("name", ""): p.get("value", "") for p in root.iterfind("./Connect/Stream/Parameter")},
            says=tuple(say.text or "" for say in root.iterfind("./Say")),
            say_languages=tuple(say.get("language", "") for say in root.iterfind("./Say")),
            dial_number=(number.text or "").strip() if number is not None else None,
            dial_attributes=dict(dial.attrib) if dial is not None else {},
            number_attributes=dict(number.attrib) if number is not None else {},
        )


@dataclass
class HeardChunk:
    audio: np.ndarray  # int16 at 8 kHz
    starts: float  # monotonic time it starts playing
    cleared: bool = False  # dropped by a `clear` before it played

    @property
    def ends(self) -> float:
        return self.starts + len(self.audio) / PHONE_RATE


class TwilioSimulator:
    def __init__(self, server_url: str, account_sid: str, auth_token: str, public_url: str | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.server_url = server_url.rstrip("/")
        self.public_url = (public_url or server_url).rstrip("/")  # what Twilio would have been told
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.ssl_context = ssl_context  # for an https:// server_url whose certificate is not a public one

    async def post(self, path_or_url: str, params: dict[str, str], signature: str | None = "sign") -> httpx.Response:
        """POST a webhook; `signature="sign"` signs it as Twilio would, None sends none, any other is sent as is."""
        path = _path(path_or_url, self.public_url)
        if signature == "sign":
            signature = twilio_signature(self.auth_token, self.public_url + path, params)
        headers = {"X-Twilio-Signature": signature} if signature is not None else {}
        async with httpx.AsyncClient(timeout=30, verify=self.ssl_context or True) as client:
            return await client.post(self.server_url + path, data=params, headers=headers)

    def call_params(self, call_sid: str, from_number: str, to_number: str, status: str = "ringing") -> dict[str, str]:
        return {
            "AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "CallSid": call_sid,
            "CallStatus": status, "Called": to_number, "Caller": from_number, "Direction": "inbound",
            "From": from_number, "FromCountry": "DE", "To": to_number, "ToCountry": "DE",
        }

    async def incoming_call(self, from_number: str = "+4915100000001", to_number: str = "+4964410000001",
                            call_sid: str | None = None) -> SimulatedCall:
        call = SimulatedCall(self, call_sid or new_sid("CA"), from_number, to_number)
        response = await self.post("/twilio/voice", self.call_params(call.call_sid, from_number, to_number))
        call.twiml = TwimlReply.parse(response.status_code, response.text)
        return call


class SimulatedCall:
    def __init__(self, twilio: TwilioSimulator, call_sid: str, from_number: str, to_number: str) -> None:
        self.twilio = twilio
        self.call_sid = call_sid
        self.from_number = from_number
        self.to_number = to_number
        self.twiml = TwimlReply(0, "")

    async def status(self, status: str) -> httpx.Response:
        params = self.twilio.call_params(self.call_sid, self.from_number, self.to_number, status)
        return await self.twilio.post("/twilio/status", params)

    async def dial_ended(self, action_url: str, dial_status: str) -> TwimlReply:
        """The <Dial> to staff ended: Twilio posts the outcome to the Dial's action URL; the reply is new TwiML."""
        params = self.twilio.call_params(self.call_sid, self.from_number, self.to_number, "in-progress")
        params["DialCallStatus"] = dial_status
        response = await self.twilio.post(action_url, params)
        self.twiml = TwimlReply.parse(response.status_code, response.text)
        return self.twiml

    async def staff_picks_up(self, whisper_url: str, staff_number: str, signature: str | None = "sign") -> TwimlReply:
        """Staff answered the <Dial>: Twilio requests the <Number url> for the staff leg (its own CallSid, the
        caller's as ParentCallSid) and plays the TwiML to staff before bridging."""
        params = self.twilio.call_params(new_sid("CA"), self.from_number, staff_number, "in-progress")
        params.update(Direction="outbound-dial", ParentCallSid=self.call_sid)
        response = await self.twilio.post(whisper_url, params, signature=signature)
        return TwimlReply.parse(response.status_code, response.text)

    @asynccontextmanager
    async def connect(self, speed: float = 1.0) -> AsyncIterator[MediaStream]:
        """Open the media socket the TwiML points at (the host rewritten to the server we talk to)."""
        if not self.twiml.stream_url:
            raise RuntimeError(f"the TwiML has no <Stream>: {self.twiml.body}")
        path = urlsplit(self.twiml.stream_url).path
        url = "ws" + self.twilio.server_url.removeprefix("http") + path
        stream = MediaStream(self, url, speed)
        await stream.open()
        try:
            yield stream
        finally:
            await stream.close()


class MediaStream:
    """One Media Streams socket, from Twilio's side: the caller's microphone out, the caller's earpiece in."""

    def __init__(self, call: SimulatedCall, url: str, speed: float = 1.0) -> None:
        self.call = call
        self.url = url
        self.speed = speed  # >1 sends the caller's audio faster than real time
        self.stream_sid = new_sid("MZ")
        self.heard_chunks: list[HeardChunk] = []
        self.marks: list[tuple[float, str]] = []  # (time echoed, name)
        self.clears: list[float] = []
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.spoken_until = 0.0  # when the last chunk of the caller's speech was sent
        self._socket: ClientConnection | None = None
        self._outgoing: asyncio.Queue[bytes] = asyncio.Queue()
        self._sent_all = asyncio.Event()
        self._pending_marks: list[tuple[float, str, asyncio.TimerHandle]] = []
        self._playback_end = 0.0
        self._sequence = 0
        self._last_sent = 0.0
        self._tasks: list[asyncio.Task[None]] = []

    # --- connection ---------------------------------------------------------------------------------------
    async def open(self, parameters: dict[str, str] | None = None) -> None:
        secure = self.url.startswith("wss://") and self.call.twilio.ssl_context
        self._socket = await connect(self.url, max_size=2**20, **({"ssl": secure} if secure else {}))
        await self.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self.send_json(self.start_message(parameters))
        self._tasks = [asyncio.create_task(self._microphone()), asyncio.create_task(self._earpiece())]

    def start_message(self, parameters: dict[str, str] | None = None) -> dict:
        return {
            "event": "start", "sequenceNumber": self._next_sequence(), "streamSid": self.stream_sid,
            "start": {
                "accountSid": self.call.twilio.account_sid, "streamSid": self.stream_sid,
                "callSid": self.call.call_sid, "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": self.call.twiml.parameters if parameters is None else parameters,
            },
        }

    async def send_json(self, message: dict) -> None:
        await self.send_raw(json.dumps(message))

    async def send_raw(self, data: str | bytes) -> None:
        assert self._socket is not None
        with suppress(ConnectionClosed):
            await self._socket.send(data)

    async def hang_up(self) -> None:
        """The caller hangs up: Twilio sends `stop` and closes the socket."""
        await self.send_json({"event": "stop", "sequenceNumber": self._next_sequence(), "streamSid": self.stream_sid,
                              "stop": {"accountSid": self.call.twilio.account_sid, "callSid": self.call.call_sid}})
        await self.close()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._socket is not None:
            with suppress(Exception):
                await self._socket.close()
        self.closed.set()

    # --- the caller ---------------------------------------------------------------------------------------
    async def say(self, audio: Audio, trailing_silence_s: float = 0.0) -> None:
        """Speak into the phone; returns when the last of it has been sent."""
        samples = audio.at_rate(PHONE_RATE).samples
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
        pcm = np.concatenate([pcm, np.zeros(int(trailing_silence_s * PHONE_RATE), np.int16)])
        pcm = np.pad(pcm, (0, -len(pcm) % CHUNK_SAMPLES))
        self._sent_all.clear()
        for offset in range(0, len(pcm), CHUNK_SAMPLES):
            self._outgoing.put_nowait(pcm16_to_mulaw(pcm[offset : offset + CHUNK_SAMPLES]))
        await self._sent_all.wait()
        self.spoken_until = self._last_sent

    async def press(self, digit: str) -> None:
        await self.send_json({"event": "dtmf", "streamSid": self.stream_sid, "sequenceNumber": self._next_sequence(),
                              "dtmf": {"track": "inbound_track", "digit": digit}})

    async def _microphone(self) -> None:
        started, index = time.monotonic(), 0
        while True:
            try:
                payload, speech = self._outgoing.get_nowait(), True
            except asyncio.QueueEmpty:
                payload, speech = SILENCE, False
                self._sent_all.set()
            await self.send_json({
                "event": "media", "sequenceNumber": self._next_sequence(), "streamSid": self.stream_sid,
                "media": {"track": "inbound", "chunk": str(index + 1), "timestamp": str(int(index * 20)),
                          "payload": base64.b64encode(payload).decode()},
            })
            if speech:
                self._last_sent = time.monotonic()
            index += 1
            delay = started + index * CHUNK_S / self.speed - time.monotonic()
            await asyncio.sleep(max(0.0, delay))

    # --- the earpiece -------------------------------------------------------------------------------------
    async def _earpiece(self) -> None:
        assert self._socket is not None
        try:
            async for data in self._socket:
                self._on_message(json.loads(data))
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self._socket.close_code
            self.closed.set()

    def _on_message(self, message: dict) -> None:
        now = time.monotonic()
        event = message.get("event")
        if event == "media":
            audio = mulaw_to_pcm16(base64.b64decode(message["media"]["payload"]))
            starts = max(now, self._playback_end)
            self.heard_chunks.append(HeardChunk(audio, starts))
            self._playback_end = starts + len(audio) / PHONE_RATE
        elif event == "mark":
            name = message["mark"]["name"]
            handle = asyncio.get_running_loop().call_later(max(0.0, self._playback_end - now), self._echo, name)
            self._pending_marks.append((self._playback_end, name, handle))
        elif event == "clear":
            self.clears.append(now)
            for chunk in self.heard_chunks:
                if chunk.starts >= now:
                    chunk.cleared = True
            self._playback_end = now
            for _, name, handle in self._pending_marks:
                handle.cancel()
                self._echo(name)

    def _echo(self, name: str) -> None:
        self._pending_marks = [m for m in self._pending_marks if m[1] != name]
        self.marks.append((time.monotonic(), name))
        asyncio.ensure_future(self.send_json({"event": "mark", "sequenceNumber": self._next_sequence(),
                                              "streamSid": self.stream_sid, "mark": {"name": name}}))

    # --- what the caller heard ----------------------------------------------------------------------------
    def heard(self, since: float = 0.0) -> Audio:
        """The audio the caller heard (cleared audio left out), from chunks that started playing after `since`."""
        parts = [c.audio for c in self.heard_chunks if not c.cleared and c.starts >= since]
        samples = np.concatenate(parts).astype(np.float32) / 32768.0 if parts else np.zeros(0, np.float32)
        return Audio(samples, PHONE_RATE)

    def heard_seconds(self, since: float = 0.0) -> float:
        return self.heard(since).seconds

    @property
    def playing(self) -> bool:
        return time.monotonic() < self._playback_end

    @property
    def playback_end(self) -> float:
        """When the bot's audio stops (stopped) playing at the caller's ear: monotonic time."""
        return self._playback_end

    async def wait_until(self, condition: Callable[[], bool], timeout_s: float, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not reached within {timeout_s:.0f} s")
            await asyncio.sleep(0.05)

    async def wait_for_audio(self, since: float, timeout_s: float = 30.0) -> None:
        """Until audio that starts after `since` arrives."""
        await self.wait_until(lambda: any(c.starts >= since for c in self.heard_chunks), timeout_s, "bot audio")

    async def wait_for_answer(self, since: float | None = None, quiet_s: float = 1.5, timeout_s: float = 60.0,
                              min_s: float = 1.0) -> Audio:
        """Until the bot has said at least `min_s` seconds after `since` (default: the caller's last words) and
        then gone quiet for `quiet_s` (a scrap of cut-off audio still in flight after a `clear` is no answer)."""
        since = self.spoken_until if since is None else since
        await self.wait_until(lambda: self.heard_seconds(since) >= min_s or self.closed.is_set(), timeout_s,
                              "an answer")
        deadline = time.monotonic() + timeout_s
        while self.playing or time.monotonic() - self._playback_end < quiet_s:
            if time.monotonic() > deadline or self.closed.is_set():
                break
            await asyncio.sleep(0.05)
        return self.heard(since)

    def _next_sequence(self) -> str:
        self._sequence += 1
        return str(self._sequence)


def fluent(audio: Audio, max_pause_s: float = 0.25, level: float = 0.01) -> Audio:
    """Shorten a synthesiser's pauses between words (at commas, say), so a sentence is one turn, as a caller
    speaks it; and end it where the voice ends, not after the silence a synthesiser appends."""
    frame = max(1, audio.rate // 50)
    frames = [audio.samples[i : i + frame] for i in range(0, len(audio.samples), frame)]
    keep, quiet = [], 0
    for chunk in frames:
        quiet = quiet + 1 if float(np.sqrt(np.mean(chunk**2))) < level else 0
        if quiet * frame <= max_pause_s * audio.rate:
            keep.append(chunk)
    samples = np.concatenate(keep).astype(np.float32)
    loud = np.flatnonzero(np.abs(samples) > 2 * level)
    end = min(len(samples), int(loud[-1]) + frame) if len(loud) else len(samples)
    return Audio(samples[:end], audio.rate)


def _path(path_or_url: str, base: str) -> str:
    if path_or_url.startswith(("http://", "https://")):
        parts = urlsplit(path_or_url)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return path_or_url
