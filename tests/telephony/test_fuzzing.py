"""Fuzzing: over a thousand random and malformed inputs while a real call goes on, and the call never notices.

One server, as `hotline serve` builds it (the phone line and the widget on one app, the real models and store).
While a German caller asks how to register a flat and hears the answer, four fuzzers run beside the call:

- the media socket's handshake: random bytes and text, truncated and mutated `connected`/`start` messages;
- the media socket mid-stream: real calls (signed webhook, valid token) that then send odd but harmless
  `media`/`dtmf`/`mark`/`connected`/`start` messages, then malformed ones: each call ends as protocol_error;
- the widget socket: random upgrade headers, bad hellos, and after a good hello mutated and garbage frames;
- the webhooks (/twilio/voice, /twilio/status, /twilio/dial-result): random and malformed bodies, wrong content
  types, unsigned, wrongly signed, and correctly signed over garbage.

Each fuzzer sends at least its quota and goes on until the real call is over (so how many inputs are sent
depends on the machine's speed); its generator is seeded (`SEED`, one per target), so the inputs come in the
same order every time and a failure can be replayed. Run with `-s` for the figures. Refusals are expected (and
logged as warnings); what must never happen: a 5xx, a socket the server leaves hanging, a traceback or an error
in our logs, the real call losing its answer, the server refusing the next caller.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import string
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
import pytest
from loguru import logger
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from telephony.simulator import TwilioSimulator, new_sid, twilio_signature
from tests.telephony.conftest import ACCOUNT_SID, AUTH_TOKEN, RunningServer, completed_call, serve
from tests.telephony.test_calls import QUESTION, choose_german

SEED = 20261203
# How many inputs each fuzzer sends at least (frames on the sockets, requests on the webhooks).
QUOTA = {"media handshake": 300, "media mid-call": 250, "widget": 300, "webhooks": 300}
CLOSE_WITHIN_S = 10.0  # a socket that sent something malformed is closed by then, or it hangs
# Close codes: how refusals close, how a text frame that is not UTF-8 closes; no close frame at all.
POLICY_VIOLATION, INVALID_DATA, ABNORMAL = 1008, 1007, 1006
PACE_S = 0.01  # between two inputs of one fuzzer: the real call gets its share of the two cores


@pytest.fixture(scope="module")
def fuzz_server(voice_services, dialogue, fake_api, store) -> Iterator[RunningServer]:
    """A server of its own: what the fuzzers leave behind (held lines, refused sockets) stays here."""
    with serve(voice_services, dialogue, fake_api, store, widget=True) as running:
        yield running


# --- random material ---------------------------------------------------------------------------------------
ODD_TEXT = ["", " ", "\x00", "ä", "ß" * 3, "\u202e", "😀", "null", "NaN", "-1", "1e309", "%00", "%ff%fe",
            "<Response/>", "' OR 1=1 --", "\\", "\"", "\n\r", "CA" + "0" * 32, "+4915100000001"]


def random_text(rng: random.Random, longest: int = 64) -> str:
    pools = [string.printable, "äöüßÄÖÜ€", "ابتثجحخ", "一二三四五", "\x00\x01\x7f\u200b\ufeff", "😀🚀"]
    return "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(0, longest)))


def odd_value(rng: random.Random) -> Any:
    """A value of the wrong type, size or kind for whatever field it lands in."""
    choice = rng.randrange(14)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([0, -1, 1, 2**63, -(2**63), 10**400 if rng.random() < 0.3 else 8000])
    if choice == 2:
        return rng.choice([1e308, -0.0, 8000.0, 0.5])
    if choice == 3:
        return rng.choice([True, False])
    if choice == 4:
        return []
    if choice == 5:
        return {}
    if choice == 6:
        return [odd_value(rng)]
    if choice == 7:
        return {random_text(rng, 8): odd_value(rng)}
    if choice == 8:
        return "x" * rng.choice([1_000, 10_000, 40_000])
    if choice == 9:
        return rng.choice(ODD_TEXT)
    return random_text(rng)


def mutate(value: Any, rng: random.Random, depth: int = 0) -> Any:
    """`value` (a Twilio or widget message) with a few fields deleted, replaced, added or retyped."""
    if isinstance(value, dict) and value and depth < 4:
        result = dict(value)
        for _ in range(rng.randint(1, 3)):
            key = rng.choice(list(result)) if result else None
            action = rng.randrange(4)
            if key is not None and action == 0:
                del result[key]
            elif key is not None and action == 1:
                result[key] = odd_value(rng)
            elif key is not None and action == 2:
                result[key] = mutate(result[key], rng, depth + 1)
            else:
                result[random_text(rng, 12)] = odd_value(rng)
        return result
    if isinstance(value, list) and value and depth < 4:
        return [mutate(item, rng, depth + 1) for item in value] + ([odd_value(rng)] if rng.random() < 0.5 else [])
    if isinstance(value, str) and rng.random() < 0.5:
        return garble(value, rng)
    return odd_value(rng)


def garble(text: str, rng: random.Random) -> str:
    """Truncated, with characters replaced or inserted (non-ASCII among them)."""
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        if not chars:
            break
        at = rng.randrange(len(chars))
        action = rng.randrange(3)
        if action == 0:
            chars = chars[:at]
        elif action == 1:
            chars[at] = rng.choice("äß€\x00\"{}[]\\😀" + string.printable)
        else:
            chars.insert(at, random_text(rng, 4))
    return "".join(chars)


def deep_json(rng: random.Random) -> str:
    """Nesting deep enough to exhaust the JSON parser's recursion (inside every size limit)."""
    depth = rng.choice([5_000, 20_000, 30_000])
    opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
    if opener == "[":
        return opener * depth + closer * depth
    return '{"event":' + opener * depth + "1" + closer * depth + "}"


class NotUtf8(bytes):
    """A text frame whose bytes are not UTF-8 (no browser or Twilio sends one)."""


async def send(socket: ClientConnection, frame: str | bytes) -> None:
    await socket.send(frame, text=True) if isinstance(frame, NotUtf8) else await socket.send(frame)


def junk_frame(rng: random.Random) -> str | bytes:
    """Something no client of ours would send: random bytes or text, broken or deep JSON, the wrong shape."""
    choice = rng.randrange(9)
    if choice == 8:
        return NotUtf8(rng.choice([b"\xff", b'{"event": "\xc3"}', b'{"type": "text", "text": "\xed\xa0\x80"}']))
    if choice == 0:
        return rng.randbytes(rng.choice([0, 1, 3, 7, 160, 1001]))
    if choice == 1:
        return random_text(rng, 200)
    if choice == 2:
        return deep_json(rng)
    if choice == 3:
        return json.dumps(odd_value(rng))
    if choice == 4:
        return json.dumps({"event": odd_value(rng), "type": odd_value(rng)})
    if choice == 5:
        return garble(json.dumps({"event": "media", "media": {"payload": "AAAA"}}), rng)
    if choice == 6:
        return "{" * rng.randint(1, 50)
    return json.dumps([random_text(rng, 8) for _ in range(rng.randint(0, 20))])


def twilio_messages(call_sid: str, stream_sid: str, token: str, rng: random.Random) -> dict[str, dict]:
    """Each Media Streams event as Twilio sends it, to be mutated."""
    payload = base64.b64encode(rng.randbytes(160)).decode()
    return {
        "connected": {"event": "connected", "protocol": "Call", "version": "1.0.0"},
        "start": {"event": "start", "sequenceNumber": "1", "streamSid": stream_sid, "start": {
            "accountSid": ACCOUNT_SID, "streamSid": stream_sid, "callSid": call_sid, "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": {"token": token}}},
        "media": {"event": "media", "sequenceNumber": "2", "streamSid": stream_sid, "media": {
            "track": "inbound", "chunk": "1", "timestamp": "0", "payload": payload}},
        "dtmf": {"event": "dtmf", "streamSid": stream_sid, "sequenceNumber": "3",
                 "dtmf": {"track": "inbound_track", "digit": rng.choice("0123456789*#")}},
        "mark": {"event": "mark", "sequenceNumber": "4", "streamSid": stream_sid, "mark": {"name": "after-1"}},
        "stop": {"event": "stop", "sequenceNumber": "5", "streamSid": stream_sid,
                 "stop": {"accountSid": ACCOUNT_SID, "callSid": call_sid}},
    }


# --- the log ----------------------------------------------------------------------------------------------
class LogWatch(logging.Handler):
    """Every record at WARNING and up, from our loggers, uvicorn's (which do not propagate) and pipecat's
    (loguru)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.loguru: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def problems(self) -> list[str]:
        found = []
        for record in self.records:
            text = record.getMessage()
            if record.exc_info or record.levelno >= logging.ERROR or "Traceback" in text:
                found.append(f"{record.name} {record.levelname}: {text[:300]}"
                             + (f" (with a traceback)\n{logging.Formatter().formatException(record.exc_info)[-3000:]}"
                                if record.exc_info else ""))
        found += [f"loguru: {line[:300]}" for line in self.loguru if "Traceback" in line]
        return found


@pytest.fixture
def log_watch() -> Iterator[LogWatch]:
    watch = LogWatch()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn"), logging.getLogger("uvicorn.access")]
    root_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.WARNING)
    for each in loggers:
        each.addHandler(watch)
    sink = logger.add(watch.loguru.append, level="WARNING", format="{level} {name}: {message}\n{exception}")
    try:
        yield watch
    finally:
        logger.remove(sink)
        for each in loggers:
            each.removeHandler(watch)
        logging.getLogger().setLevel(root_level)


# --- the fuzzers ------------------------------------------------------------------------------------------
class Fuzz:
    """What was sent where, and what went wrong (a 5xx, a socket left hanging)."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.ws_url = server.url.replace("http", "ws")
        self.sent: Counter[str] = Counter()
        self.findings: list[str] = []
        self.refusals: Counter[str] = Counter()  # close codes and HTTP statuses, for the report
        self.fuzz_calls: dict[str, int | None] = {}  # call SID: the code its socket was closed with

    def rng(self, target: str) -> random.Random:
        return random.Random(f"{SEED}/{target}")

    def more(self, target: str) -> bool:
        """Go on until the target's quota is sent. Not for as long as the real call lasts: the fuzzers share this
        process (and its interpreter lock) with the server, so fuzzing on slows the call's audio, which makes
        the call longer, which made the fuzzing longer still (6,000 inputs over 70 s, the answer's audio
        trickling out past every timeout)."""
        return self.sent[target] < QUOTA[target]

    def total(self) -> int:
        return sum(self.sent.values())


async def wait_closed(socket: ClientConnection, timeout_s: float = CLOSE_WITHIN_S) -> int | None:
    """Read (and drop) what the server sends until it closes the socket; its close code, or None if it hangs."""
    try:
        async with asyncio.timeout(timeout_s):
            async for _ in socket:
                pass
    except ConnectionClosed:
        pass
    except TimeoutError:
        return None
    return socket.close_code


async def fuzz_media_handshake(fuzz: Fuzz) -> None:
    """Sockets that never become a call: every one is closed with 1008, at once."""
    rng, url, target = fuzz.rng("media handshake"), fuzz.ws_url + "/twilio/media", "media handshake"
    while fuzz.more(target):
        template = twilio_messages(new_sid("CA"), new_sid("MZ"), garble("e30.c2ln" * 5, rng), rng)
        frames: list[str | bytes] = []
        if rng.random() < 0.5:
            frames.append(json.dumps(template["connected"]) if rng.random() < 0.6 else
                          json.dumps(mutate(template["connected"], rng)))
        kind = rng.randrange(4)
        if kind == 0:
            frames.append(junk_frame(rng))
        elif kind == 1:
            frames.append(json.dumps(mutate(template["start"], rng)))
        elif kind == 2:
            frames.append(garble(json.dumps(template[rng.choice(list(template))]), rng))
        else:
            frames.append(json.dumps(mutate(template[rng.choice(["media", "dtmf", "mark", "stop"])], rng)))
        if len(frames) == 1:  # what might still read as `connected`, alone, would wait for the handshake timeout
            frames.insert(0, json.dumps(template["connected"]))
        path = "/twilio/media" if rng.random() < 0.9 else "/twilio/media/" + rng.choice(["other", "%C3%A4", "x" * 300])
        async with connect(fuzz.ws_url + path if path != "/twilio/media" else url, max_size=2**20) as socket:
            for frame in frames:
                try:
                    await send(socket, frame)
                    fuzz.sent[target] += 1
                except ConnectionClosed:
                    break
            code = await wait_closed(socket)
        if code not in (POLICY_VIOLATION, INVALID_DATA):  # None: left open; 1006: dropped without a close frame
            fuzz.findings.append(f"media handshake: closed with {code} after {[str(f)[:120] for f in frames]}")
        fuzz.refusals[f"media handshake closed {code}"] += 1
        await asyncio.sleep(PACE_S)


def benign_media(template: dict[str, dict], rng: random.Random) -> dict:
    """A message Twilio could send mid-call, with odd but harmless content: it must not end the call."""
    choice = rng.randrange(6)
    if choice <= 1:  # audio of any length, noise or silence
        size = rng.choice([0, 1, 80, 160, 161, 800])
        audio = rng.randbytes(size) if rng.random() < 0.3 else b"\xff" * size
        return dict(template["media"], media=dict(template["media"]["media"],
                                                  payload=base64.b64encode(audio).decode()))
    if choice == 2:
        return dict(template["mark"], mark={"name": odd_value(rng)})
    if choice == 3:
        return dict(template["connected"], version=odd_value(rng))
    if choice == 4:
        return mutate(template["start"], rng) | {"event": "start"}
    return dict(template["dtmf"], dtmf={"digit": rng.choice("0#"), "track": odd_value(rng)})


def malformed_media(template: dict[str, dict], rng: random.Random) -> str | bytes:
    """A message Twilio never sends mid-call: the call is closed (with the outcome protocol_error)."""
    choice = rng.randrange(5)
    if choice == 0:
        return junk_frame(rng)
    if choice == 1:
        return json.dumps(dict(template["media"], media={"payload": rng.choice(["***", "ä", "A", "AAA=A"])}))
    if choice == 2:
        return json.dumps(dict(template["dtmf"], dtmf={"digit": odd_value(rng)}))
    if choice == 3:
        return json.dumps({"event": rng.choice(["surprise", "clear", "MEDIA", "start "])})
    return json.dumps(dict(template["media"], media=odd_value(rng)))


async def fuzz_media_mid_call(fuzz: Fuzz, twilio: TwilioSimulator) -> None:
    """Real calls (signed webhook, valid token) that send odd messages, then a malformed one."""
    rng, target = fuzz.rng("media mid-call"), "media mid-call"
    while fuzz.more(target):
        call = await twilio.incoming_call()
        fuzz.fuzz_calls[call.call_sid] = None
        url = fuzz.ws_url + urlsplit(call.twiml.stream_url or "").path
        stream_sid = new_sid("MZ")
        template = twilio_messages(call.call_sid, stream_sid, call.twiml.parameters["token"], rng)
        async with connect(url, max_size=2**20) as socket:
            await socket.send(json.dumps(template["connected"]))
            await socket.send(json.dumps(template["start"]))
            frames = [json.dumps(benign_media(template, rng)) for _ in range(rng.randint(10, 40))]
            frames.append(malformed_media(template, rng))
            frames.append(json.dumps({"event": "surprise"}))  # in case the garbled one still read as media
            drain = asyncio.create_task(wait_closed(socket, 60))
            for index, frame in enumerate(frames):
                try:
                    await send(socket, frame)
                    fuzz.sent[target] += 1
                except ConnectionClosed:
                    if index < len(frames) - 2:  # an odd but harmless message ended the call
                        fuzz.findings.append(f"media mid-call: closed after {str(frames[index - 1])[:120]}")
                    break
                await asyncio.sleep(PACE_S)
            try:
                code = await asyncio.wait_for(asyncio.shield(drain), CLOSE_WITHIN_S)
            except TimeoutError:
                drain.cancel()
                code = None
                fuzz.findings.append(f"media mid-call: call left open after {str(frames[-1])[:120]}")
        if code == ABNORMAL:
            fuzz.findings.append(f"media mid-call: dropped without a close frame after {str(frames[-2])[:120]}")
        fuzz.fuzz_calls[call.call_sid] = code
        fuzz.refusals[f"media mid-call closed {code}"] += 1
        await asyncio.sleep(50 * PACE_S)  # each of these calls is a pipeline of its own


def widget_frames(rng: random.Random) -> tuple[list[str | bytes], bool]:
    """Frames for one widget session after its hello, and whether the last one must close the session."""
    frames: list[str | bytes] = []
    for _ in range(rng.randint(0, 12)):
        choice = rng.randrange(7)
        if choice == 0:
            frames.append(json.dumps({"type": "staff"}))
        elif choice == 1:
            frames.append(json.dumps({"type": "lang", "lang": rng.choice(["de", "en", "tr", "ar", "uk"])}))
        elif choice == 2:
            frames.append(json.dumps({"type": "transcript", "keep": rng.random() < 0.5}))
        elif choice == 3:
            frames.append(json.dumps({"type": "callback", "name": random_text(rng, 20), "phone": random_text(rng, 20),
                                      "email": random_text(rng, 20), "question": random_text(rng, 50),
                                      "consent": rng.random() < 0.5}))
        elif choice == 4:
            frames.append(b"\x00\x00" * rng.choice([1, 160, 1600]))  # silence: heard, nothing to answer
        elif choice == 5:
            frames.append(json.dumps({"type": "end"}))
        else:
            frames.append(json.dumps({"type": "staff", random_text(rng, 8): odd_value(rng)}))
    choice = rng.randrange(9)
    if choice == 0:
        return frames, False  # the visitor just leaves
    if choice == 1:
        frames.append(rng.randbytes(rng.choice([1, 3, 33_000, 100_001])))  # half a sample, or too big
    elif choice == 2:
        frames.append(json.dumps({"type": "text", "text": "x" * rng.choice([1_001, 5_000])}))
    elif choice == 3:
        frames.append(json.dumps(mutate({"type": rng.choice(["hello", "lang", "callback", "transcript", "text"]),
                                         "lang": "en", "keep": True, "text": 1, "consent": "yes"}, rng)))
    elif choice == 4:
        frames.append(deep_json(rng))
    elif choice == 5:
        frames.append(json.dumps({"type": "hello", "lang": "en"}))  # only once
    else:
        frames.append(junk_frame(rng))
    # Random bytes may be whole samples and a mutation may leave a valid message: then this one ends it.
    frames.append(rng.choice([b"\x01", "not JSON", json.dumps({"type": "format_disk"})]))
    return frames, True


async def raw_upgrade(fuzz: Fuzz, rng: random.Random) -> None:
    """A WebSocket upgrade written by hand, one or two of its headers odd: refused with a status, never a crash."""
    port = urlsplit(fuzz.server.url).port
    headers = {"Host": f"127.0.0.1:{port}", "Upgrade": "websocket", "Connection": "Upgrade",
               "Sec-WebSocket-Key": base64.b64encode(rng.randbytes(16)).decode(), "Sec-WebSocket-Version": "13",
               "Origin": fuzz.server.url}
    odd = {
        "Host": ["[", "a:99999", "::1", "ä", "", "x" * 300, f"localhost:{port}", "127.0.0.1:0", "a b", "[::1"],
        "Upgrade": ["WebSocket", "h2c", ""],
        "Connection": ["keep-alive", "", "upgrade, close"],
        "Sec-WebSocket-Key": ["short", "", "ä" * 24],
        "Sec-WebSocket-Version": ["8", "x", ""],
        "Origin": ["null", "http://[", "http://a:99999", "http://ä.de", "http://127.0.0.1:0", "http://[::1",
                   f"http://localhost:{port}/path", f"HTTP://127.0.0.1:{port}", "\x01", random_text(rng, 30)],
    }
    for name in rng.sample(list(odd), rng.randint(1, 2)):
        headers[name] = rng.choice(odd[name])
    lines = [f"GET /widget/ws{rng.choice([''] * 6 + ['?x=1', '/../ws', '%00'])} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in headers.items() if value or rng.random() < 0.5]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), CLOSE_WITHIN_S)
    except TimeoutError:
        fuzz.findings.append(f"widget upgrade: no answer to {headers}")
        return
    finally:
        writer.close()
    parts = status.split()
    code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    if code >= 500:
        fuzz.findings.append(f"widget upgrade: HTTP {code} for {headers}")
    fuzz.refusals[f"widget upgrade {code}"] += 1


async def fuzz_widget(fuzz: Fuzz, worker: int) -> None:
    rng, target = fuzz.rng(f"widget {worker}"), "widget"
    url = fuzz.ws_url + "/widget/ws"
    address = f"127.0.0.{worker + 1}"  # the per-address limit is 4: two workers, two addresses
    while fuzz.more(target):
        if rng.random() < 0.2:
            await raw_upgrade(fuzz, rng)
            fuzz.sent[target] += 1
            continue
        hello: str | bytes
        good_hello = rng.random() < 0.75
        if good_hello:
            hello = json.dumps({"type": "hello", "lang": rng.choice(["en", "de", None, "xx", "ä"]),
                                "transcript": rng.random() < 0.8})
        else:
            hello = rng.choice([json.dumps(mutate({"type": "hello", "lang": "en", "transcript": True}, rng)),
                                junk_frame(rng)])
        try:
            socket = await connect(url, origin=fuzz.server.url, max_size=2**20, local_addr=(address, 0),
                                   open_timeout=10)  # type: ignore[arg-type]
        except InvalidHandshake as exc:
            fuzz.findings.append(f"widget: the socket could not open ({exc})")
            continue
        async with socket:
            try:
                await send(socket, hello)
                fuzz.sent[target] += 1
                ready = json.loads(await asyncio.wait_for(socket.recv(), CLOSE_WITHIN_S))
            except (ConnectionClosed, TimeoutError, TypeError, ValueError):
                ready = {}
            if ready.get("type") != "ready":
                code = await wait_closed(socket)
                if code is None:
                    fuzz.findings.append(f"widget: left open after the hello {str(hello)[:120]}")
                fuzz.refusals[f"widget closed {code}"] += 1
                continue
            frames, closes = widget_frames(rng)
            drain = asyncio.create_task(wait_closed(socket, 60))
            for frame in frames:
                try:
                    await send(socket, frame)
                    fuzz.sent[target] += 1
                except ConnectionClosed:
                    break
            if closes:
                try:
                    code = await asyncio.wait_for(asyncio.shield(drain), CLOSE_WITHIN_S)
                except TimeoutError:
                    code = None
                    fuzz.findings.append(f"widget: session left open after {str(frames[-1])[:120]}")
            else:
                code = "left"
            drain.cancel()
        if code == ABNORMAL:
            fuzz.findings.append(f"widget: dropped without a close frame after {str(frames[-1])[:120]}")
        fuzz.refusals[f"widget closed {code}"] += 1
        await asyncio.sleep(PACE_S)


def webhook_request(rng: random.Random, server: RunningServer, twilio: TwilioSimulator) -> dict[str, Any]:
    """One malformed webhook request: its path, body, headers."""
    path = rng.choice(["/twilio/voice", "/twilio/status", "/twilio/dial-result"])
    if path == "/twilio/dial-result" or rng.random() < 0.2:
        path += "?" + rng.choice(["lang=de", "lang=" + quote(random_text(rng, 10)), "lang=%ff", "a=1&a=2", "%zz", ""])
    params: dict[str, Any] = twilio.call_params(new_sid("CA"), "+4915100000001", "+4964410000001")
    for _ in range(rng.randint(0, 4)):
        key = rng.choice(list(params) + ["DialCallStatus", "CallSid", random_text(rng, 10)])
        params[key] = str(odd_value(rng))[:2_000] if rng.random() < 0.8 else ""
    if path.startswith("/twilio/dial-result") and rng.random() < 0.5:
        params["DialCallStatus"] = rng.choice(["completed", "canceled", "answered"])  # no line held for it
    headers: dict[str, Any] = {"Content-Type": "application/x-www-form-urlencoded"}
    body: bytes = urlencode(params).encode()
    kind = rng.randrange(9)
    signature: str | bytes | None
    if kind == 0:  # correctly signed over garbage fields (Twilio's own signature: the server must cope)
        if path.startswith("/twilio/voice"):
            params.pop("CallSid")  # a signed voice webhook with a call SID takes a line; this one asks for none
        body = urlencode(params).encode()
        signature = twilio_signature(AUTH_TOKEN, server.url + path, params)
    elif kind == 1:
        signature = None
    elif kind == 2:
        signature = rng.choice(["", "forged", base64.b64encode(rng.randbytes(20)).decode(), "ä".encode("latin-1"),
                                "x" * 5_000])
    elif kind == 3:
        signature = twilio_signature("someone-elses-token", server.url + path, params)
    elif kind == 4:
        body = rng.randbytes(rng.choice([0, 10, 1_000, 40_000]))
        signature = twilio_signature(AUTH_TOKEN, server.url + path, params)
    elif kind == 5:
        headers["Content-Type"] = rng.choice(["application/json", "multipart/form-data; boundary=x", "text/plain",
                                              "", "application/x-www-form-urlencoded; charset=latin-1",
                                              "application/x-www-form-urlencoded, text/html"])
        body = rng.choice([json.dumps(params).encode(), body, b"--x\r\n\r\n--x--"])
        signature = twilio_signature(AUTH_TOKEN, server.url + path, params)
    elif kind == 6:
        body = rng.choice([b"%", b"a=%ff%fe", b"=&=&&", b"CallSid=\xff\xfe", "a=ä".encode("latin-1"),
                           b"a" * 33_000, b"&".join([b"k=v"] * 5_000)])
        signature = rng.choice(["c2ln", twilio_signature(AUTH_TOKEN, server.url + path, {})])
    elif kind == 7:  # signed, then a field changed
        signature = twilio_signature(AUTH_TOKEN, server.url + path, params)
        params["From"] = random_text(rng, 20)
        body = urlencode(params).encode()
    else:  # the signature over another URL (host, scheme, path or query changed)
        other = rng.choice(["https://evil.example", server.url.replace("127.0.0.1", "localhost")])
        signature = twilio_signature(AUTH_TOKEN, other + path, params)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    if rng.random() < 0.1:
        headers["Host"] = rng.choice(["[", "a:99999", "ä", "x" * 300, "evil.example"]).encode()
    return {"method": rng.choice(["POST"] * 9 + ["GET", "PUT"]), "url": server.url + path, "content": body,
            "headers": headers}


async def fuzz_webhooks(fuzz: Fuzz, twilio: TwilioSimulator) -> None:
    rng, target = fuzz.rng("webhooks"), "webhooks"
    async with httpx.AsyncClient(timeout=CLOSE_WITHIN_S) as client:
        while fuzz.more(target):
            request = webhook_request(rng, fuzz.server, twilio)
            try:
                response = await client.request(**request)
            except httpx.HTTPError as exc:
                fuzz.findings.append(f"webhook: {type(exc).__name__} for {request['url']} {request['headers']}")
                continue
            finally:
                fuzz.sent[target] += 1
            if response.status_code >= 500:
                fuzz.findings.append(f"webhook: HTTP {response.status_code} for {request['method']} "
                                     f"{request['url']} {request['headers']} {request['content'][:200]!r}")
            fuzz.refusals[f"webhook {response.status_code}"] += 1
            await asyncio.sleep(PACE_S)


# --- the test ---------------------------------------------------------------------------------------------
async def real_call(twilio: TwilioSimulator, speech: Callable, store, timeline: dict[str, float]) -> Any:
    question = speech(QUESTION)
    call = await twilio.incoming_call()
    async with call.connect() as line:
        started = time.monotonic()
        await choose_german(line)
        timeline["asked"] = time.monotonic() - started
        await line.say(question, trailing_silence_s=0.3)
        await line.wait_for_answer(quiet_s=3.0)
        timeline["answered until"] = line.playback_end - started
        timeline["hung up"] = time.monotonic() - started
        await line.hang_up()
    return await completed_call(store, call.call_sid, timeout_s=60)


async def test_a_thousand_malformed_inputs_leave_a_live_call_and_the_server_unharmed(
        fuzz_server: RunningServer, speech, store, log_watch: LogWatch) -> None:
    speech(QUESTION)  # synthesised before the clock starts
    twilio = fuzz_server.twilio
    fuzz = Fuzz(fuzz_server)
    started = time.monotonic()
    timeline: dict[str, float] = {}  # seconds into the real call, for the story of a failure
    call = asyncio.create_task(real_call(twilio, speech, store, timeline))
    await asyncio.sleep(1.0)  # the call is connected and hears its greeting
    fuzzers = [fuzz_media_handshake(fuzz), fuzz_media_mid_call(fuzz, twilio), fuzz_widget(fuzz, 0),
               fuzz_widget(fuzz, 1), fuzz_webhooks(fuzz, twilio)]
    await asyncio.gather(*fuzzers)
    fuzzed_s = time.monotonic() - started
    during_the_call = not call.done()
    detail = await call
    pipecat_errors = sum(line.startswith("ERROR") for line in log_watch.loguru)
    report = (f"fuzzed {fuzz.total()} inputs in {fuzzed_s:.0f} s ({dict(fuzz.sent)}; mid-call "
              f"over {len(fuzz.fuzz_calls)} calls); answers: {dict(sorted(fuzz.refusals.items()))}; "
              f"log: {len(log_watch.records)} warnings, {pipecat_errors} pipecat errors without a traceback")
    print(report)

    assert not fuzz.findings, "\n".join(fuzz.findings[:20])
    assert during_the_call, f"the real call was over before the fuzzing was: {report}"
    assert fuzz.total() >= 1_000 and all(fuzz.sent[target] >= quota for target, quota in QUOTA.items()), report
    story = (detail.call.outcome, [(t.action, t.topic, t.language) for t in detail.turns], detail.statuses,
             {what: round(at, 1) for what, at in timeline.items()})
    assert detail.call.outcome == "hung_up", story
    [turn] = detail.turns
    assert (turn.language, turn.action, turn.topic) == ("de", "answer", "address-registration")
    for call_sid, code in fuzz.fuzz_calls.items():  # each was closed for its malformed message, and recorded
        record = await completed_call(store, call_sid)
        # Text that is not UTF-8 is refused below the call (1007): to the call, the caller just left.
        expected = "hung_up" if code == INVALID_DATA else "protocol_error"
        assert record.call.outcome == expected, (call_sid, code, record.call.outcome)

    async with httpx.AsyncClient() as client:
        assert (await client.get(fuzz_server.url + "/healthz")).status_code == 200
    fresh = await twilio.incoming_call()
    assert fresh.twiml.stream_url, fresh.twiml.body
    async with fresh.connect() as line:
        await line.wait_for_audio(since=0)
        await line.hang_up()
    assert not log_watch.problems(), "\n".join(log_watch.problems()[:20])

