"""The widget socket as a browser (or an abuser) meets it: origins, limits, bad frames, answers.

A real uvicorn server, the real voice agent and the `websockets` client; nothing is patched.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from telephony.widget import WidgetConfig
from telephony.widget.protocol import SAMPLE_RATE, encode_audio
from tests.widget.conftest import widget_server
from voice.audio import Audio


def socket_url(server: str) -> str:
    return server.replace("http://", "ws://") + "/widget/ws"


@asynccontextmanager
async def session(server: str, origin: str | None = None, hello: bool = True,
                  address: str | None = None, lang: str = "en") -> AsyncIterator[ClientConnection]:
    """A visitor's socket; `address`: the loopback address it comes from (127.0.0.1 unless given)."""
    extra: dict[str, Any] = {"local_addr": (address, 0)} if address else {}
    async with connect(socket_url(server), origin=origin or server, open_timeout=10, **extra) as ws:  # type: ignore[arg-type]
        if hello:
            await ws.send(json.dumps({"type": "hello", "lang": lang}))
            ready = await next_json(ws)
            assert ready["type"] == "ready", ready
        yield ws


async def next_json(ws: ClientConnection, timeout: float = 60) -> dict:
    """The next JSON message, skipping audio frames."""
    while True:
        frame = await asyncio.wait_for(ws.recv(), timeout)
        if isinstance(frame, str):
            return json.loads(frame)


async def closed_with(ws: ClientConnection) -> tuple[int, list[dict]]:
    """Read until the server closes; the close code and the JSON messages it sent before."""
    messages = []
    try:
        while True:
            frame = await asyncio.wait_for(ws.recv(), 30)
            if isinstance(frame, str):
                messages.append(json.loads(frame))
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "the server dropped the connection without a close frame"
        return closed.rcvd.code, messages


async def test_a_page_on_another_site_cannot_open_the_socket(server: str) -> None:
    for origin in ("https://evil.example", "http://127.0.0.1.evil.example:8000", "null"):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(socket_url(server), origin=origin):  # type: ignore[arg-type]
                pass
        assert refused.value.response.status_code == 403, origin


async def test_a_socket_without_an_origin_is_refused(server: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(socket_url(server)):
            pass
    assert refused.value.response.status_code == 403


async def test_a_typed_question_gets_the_answer_its_sources_and_speech(server: str) -> None:
    async with session(server, origin="http://localhost:1234") as ws:
        await ws.send(json.dumps({"type": "text", "text": "How much does the Deutschlandticket cost?"}))
        reply = await next_json(ws)
        assert reply["type"] == "reply" and reply["action"] == "answer"
        assert "63 euros" in reply["answer"]
        assert reply["sources"] and all(s["url"].startswith("https://") for s in reply["sources"])
        audio = await asyncio.wait_for(ws.recv(), 30)
        assert isinstance(audio, bytes) and len(audio) > 3200 and len(audio) % 2 == 0


async def test_a_visitor_pausing_a_second_to_find_a_word_gets_one_answer_to_the_whole_question(
        server: str, voice_services) -> None:
    speak = voice_services.synthesizer.speak
    half, rest = speak("Wie viel kostet das, äh", "de"), speak("das Deutschlandticket im Monat?", "de")
    spoken = Audio.concat([half, Audio.silence(1.0, 16000), rest, Audio.silence(3.0, 16000)], SAMPLE_RATE)
    async with session(server, lang="de") as ws:
        async def microphone() -> None:  # in real time, as a browser sends it
            for start in range(0, len(spoken.samples), 320):
                await ws.send(encode_audio(spoken.samples[start : start + 320]))
                await asyncio.sleep(0.02)

        talking = asyncio.create_task(microphone())
        finals = []
        while (message := await next_json(ws))["type"] != "reply":
            if message["type"] == "final":
                finals.append(message["text"])
        await talking
    assert len(finals) == 1, finals
    assert (message["action"], message["topic"]) == ("answer", "deutschlandticket")


async def test_releasing_press_to_talk_ends_the_turn_even_mid_sentence(server: str, voice_services) -> None:
    # The turn model would wait for the rest of "Wie viel kostet das, äh"; the released button says it is over.
    half = voice_services.synthesizer.speak("Wie viel kostet das, äh", "de").at_rate(SAMPLE_RATE)
    async with session(server, lang="de") as ws:
        for start in range(0, len(half.samples), 320):
            await ws.send(encode_audio(half.samples[start : start + 320]))
        await ws.send(json.dumps({"type": "end"}))
        while (message := await next_json(ws, timeout=30))["type"] != "final":
            pass
    assert message["text"]


async def test_an_oversize_frame_closes_that_session_and_no_other(server: str) -> None:
    async with session(server) as bystander, session(server) as abuser:
        await abuser.send(b"\x00" * 64_000)
        code, messages = await closed_with(abuser)
        assert code == 1009
        assert messages[-1] == {"type": "error", "code": "frame_too_big", "fatal": True,
                                "message": messages[-1]["message"]}
        await bystander.send(json.dumps({"type": "text", "text": "Wo gilt das Deutschlandticket?"}))
        reply = await next_json(bystander)
        assert reply["type"] == "reply" and reply["topic"] == "deutschlandticket"


@pytest.mark.parametrize(("frame", "code"), [
    (b"\x01\x02\x03", 1003),  # half a sample
    ("this is not json", 1003),
    ('["hello"]', 1003),
    ('{"type": "format_disk"}', 1003),
    ('{"type": "text", "text": 42}', 1003),
    ('{"type": "lang", "lang": "xx"}', 1003),
    ('{"type": "hello", "lang": "en"}', 1003),  # a second hello
])
async def test_a_garbage_frame_closes_the_session(server: str, frame: bytes | str, code: int) -> None:
    async with session(server) as ws:
        await ws.send(frame)
        closed, messages = await closed_with(ws)
    assert closed == code
    assert messages and messages[-1]["type"] == "error" and messages[-1]["fatal"] is True


async def test_a_session_must_begin_with_hello(server: str) -> None:
    async with session(server, hello=False) as ws:
        await ws.send(json.dumps({"type": "text", "text": "hi"}))
        code, messages = await closed_with(ws)
    assert code == 1008 and messages[-1]["code"] == "protocol"


async def test_an_invalid_callback_is_refused_with_the_field_to_fix(server: str) -> None:
    async with session(server) as ws:
        await ws.send(json.dumps({"type": "callback", "name": "A", "phone": "call me maybe", "email": "",
                                  "question": "", "consent": True}))
        problem = await next_json(ws)
        assert problem["code"] == "callback_invalid" and problem["field"] == "phone" and not problem["fatal"]
        await ws.send(json.dumps({"type": "callback", "name": "A", "phone": "+49 171 2345678", "email": "",
                                  "question": "Blaue Karte", "consent": False}))
        problem = await next_json(ws)
        assert problem["field"] == "consent"
        await ws.send(json.dumps({"type": "staff"}))  # the session goes on
        staff = await next_json(ws)
        assert staff == {"type": "staff", "open": True, "phone": "06441 0000 000", "tel": "tel:064410000000",
                         "text": "", "next_opening": None}


@pytest.fixture(scope="module")
def strict_server(voice_services) -> Iterator[str]:
    """Tight limits, so that exceeding them takes a moment; no store: callbacks cannot be kept here."""
    config = WidgetConfig(messages_per_s=5, session_limit_s=3, max_sessions=2, idle_limit_s=30)
    with widget_server(voice_services, None, config) as url:
        yield url


async def test_flooding_the_socket_closes_it(strict_server: str) -> None:
    async with session(strict_server) as ws:
        for _ in range(40):
            await ws.send(b"\x00\x00" * 160)
        code, messages = await closed_with(ws)
    assert code == 1008 and messages[-1]["code"] == "rate_limited"


async def test_a_conversation_ends_at_the_session_time_limit(strict_server: str) -> None:
    async with session(strict_server) as ws:
        code, messages = await closed_with(ws)
    assert code == 1000 and messages[-1]["code"] == "time_limit"


async def test_more_visitors_than_allowed_are_asked_to_come_back(strict_server: str) -> None:
    async with session(strict_server), session(strict_server), session(strict_server, hello=False) as third:
        code, messages = await closed_with(third)
    assert code == 1013 and messages[-1]["code"] == "busy"


@pytest.fixture(scope="module")
def guarded_server(voice_services) -> Iterator[str]:
    """Four sockets per address; a hello may take long, so that silent sockets stay open while counted."""
    config = WidgetConfig(max_sessions_per_address=4, hello_timeout_s=60, max_sessions=16)
    with widget_server(voice_services, None, config) as url:
        yield url


@pytest.fixture(scope="module")
def impatient_server(voice_services) -> Iterator[str]:
    """A hello must come within half a second (3 s by default)."""
    with widget_server(voice_services, None, WidgetConfig(hello_timeout_s=0.5)) as url:
        yield url


async def test_a_fifth_socket_from_one_address_is_refused_while_another_address_gets_in(guarded_server: str) -> None:
    async with AsyncExitStack() as open_sockets:
        for _ in range(4):  # none of them says hello: they count from the moment they open
            await open_sockets.enter_async_context(session(guarded_server, hello=False))
        async with session(guarded_server, hello=False) as fifth:
            code, messages = await closed_with(fifth)
        assert code == 1013 and messages[-1]["code"] == "too_many_sessions" and messages[-1]["fatal"]
        assert "at most 4 conversations at once from one address" in messages[-1]["message"]
        async with session(guarded_server, address="127.0.0.2") as neighbour:  # says hello, gets ready
            await neighbour.send(json.dumps({"type": "staff"}))
            assert (await next_json(neighbour))["type"] == "staff"
    # The four are gone: the address has its places back.
    for _ in range(100):
        async with session(guarded_server, hello=False) as again:
            await again.send(json.dumps({"type": "hello", "lang": "en"}))
            reply = await next_json(again)
        if reply["type"] == "ready":
            break
        await asyncio.sleep(0.05)  # the server may not have seen the four close yet
    assert reply["type"] == "ready", reply


async def test_a_socket_that_never_says_hello_is_closed_soon(impatient_server: str) -> None:
    async with session(impatient_server, hello=False) as silent:
        opened = time.monotonic()
        code, messages = await closed_with(silent)
    assert code == 1008 and messages[-1]["code"] == "no_hello"
    assert messages[-1]["message"] == "no hello message within 0.5 s of opening the socket"
    assert 0.4 < time.monotonic() - opened < 5
    assert WidgetConfig().hello_timeout_s == 3  # the default an operator gets
