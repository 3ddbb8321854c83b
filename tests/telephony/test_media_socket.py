"""The media socket refuses anything that is not a Twilio stream we promised, and a bad socket hurts no one."""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from telephony.simulator import MediaStream, new_sid
from tests.telephony.conftest import completed_call

POLICY_VIOLATION = 1008


async def closed_by_server(url: str, *messages: str | bytes, timeout_s: float = 15.0) -> int | None:
    """Send `messages`, then wait for the server to close the socket; its close code."""
    async with connect(url) as socket:
        for message in messages:
            try:
                await socket.send(message)
            except ConnectionClosed:
                break
        try:
            async with asyncio.timeout(timeout_s):
                async for _ in socket:
                    pass
        except ConnectionClosed:
            pass
        return socket.close_code


def start(call_sid: str, token: str | None, account_sid: str, encoding: str = "audio/x-mulaw",
          rate: int = 8000) -> str:
    stream_sid = new_sid("MZ")
    return json.dumps({"event": "start", "streamSid": stream_sid, "start": {
        "accountSid": account_sid, "streamSid": stream_sid, "callSid": call_sid, "tracks": ["inbound"],
        "mediaFormat": {"encoding": encoding, "sampleRate": rate, "channels": 1},
        "customParameters": {"token": token} if token else {},
    }})


async def test_bad_sockets_are_closed_and_a_live_call_carries_on(twilio, server):
    live = await twilio.incoming_call()
    media_url = server.url.replace("http", "ws") + "/twilio/media"
    account = twilio.account_sid
    async with live.connect() as line:
        await line.wait_for_audio(since=0)
        other = await twilio.incoming_call()
        token = other.twiml.parameters["token"]
        connected = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        refused = {
            "not JSON": ["hello"],
            "JSON but no event": ['[1, 2, 3]'],
            "an event that is a list": ['{"event": []}'],
            "nesting too deep to parse": ["[" * 30_000 + "]" * 30_000],
            "binary": [b"\x00\x01\x02"],
            "media before start": [connected, json.dumps({"event": "media", "media": {"payload": "AAAA"}})],
            "no token": [connected, start(other.call_sid, None, account)],
            "forged token": [connected, start(other.call_sid, token[:-4] + "AAAA", account)],
            "token with non-ASCII characters": [connected, start(other.call_sid, "ä" + token, account)],
            "token of another call": [connected, start(new_sid("CA"), token, account)],
            "token of the live call, again": [connected, start(live.call_sid, live.twiml.parameters["token"], account)],
            "another account": [connected, start(other.call_sid, token, "AC" + "0" * 32)],
            "wrong codec": [connected, start(other.call_sid, token, account, "audio/l16", 16000)],
        }
        for what, messages in refused.items():
            assert await closed_by_server(media_url, *messages) == POLICY_VIOLATION, what
        assert await closed_by_server(media_url, timeout_s=15) == POLICY_VIOLATION  # silent: handshake timeout
        before = line.heard_seconds()
        await asyncio.sleep(1.0)
        assert line.heard_seconds() > before + 0.5  # the live call's greeting never paused
        assert not line.closed.is_set()
        await line.hang_up()
    async with httpx.AsyncClient() as client:
        assert (await client.get(server.url + "/healthz")).status_code == 200


@pytest.mark.parametrize("garbage", [
    "not json at all",
    json.dumps({"event": "media", "media": {"payload": "***not base64***"}}),
    json.dumps({"event": "dtmf", "dtmf": {"digit": "X"}}),
    json.dumps({"event": "surprise"}),
    json.dumps({"event": {"media": 1}}),
    json.dumps({"event": "dtmf", "dtmf": {"digit": ["1"]}}),
    '{"event": "media", "media": ' + "[" * 30_000 + "]" * 30_000 + "}",
], ids=["not-json", "bad-payload", "bad-digit", "unknown-event", "unhashable-event", "unhashable-digit",
        "too-deep"])
async def test_a_malformed_message_mid_call_closes_that_call_only(twilio, store, garbage):
    call = await twilio.incoming_call()
    stream = MediaStream(call, twilio.server_url.replace("http", "ws") + "/twilio/media")
    await stream.open()
    try:
        await stream.wait_for_audio(since=0)
        await stream.send_raw(garbage)
        await asyncio.wait_for(stream.closed.wait(), 15)
    finally:
        await stream.close()
    assert (await completed_call(store, call.call_sid)).call.outcome == "protocol_error"


async def test_an_upgrade_request_that_cannot_be_read_is_answered_and_closed(server) -> None:
    """Found by fuzzing: a control character in a header left the connection open and unanswered, for good."""
    port = urlsplit(server.url).port
    request = (f"GET /twilio/media HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: cQivi0q2iqWve4icqR5Aig==\r\nSec-WebSocket-Version: 13\r\n"
               "Origin: \x01\r\n\r\n")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request.encode())
        answer = await asyncio.wait_for(reader.read(), 5)  # to the end: the server closes the connection
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 400 "), answer


async def test_a_text_frame_that_is_not_utf8_closes_the_socket_with_one_warning(server, caplog) -> None:
    """Found by fuzzing: each such frame logged an ERROR with a traceback (uvicorn's logger, which does not
    propagate: its records are caught here directly)."""
    uvicorn_log = logging.getLogger("uvicorn")
    uvicorn_log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING):
            async with connect(server.url.replace("http", "ws") + "/twilio/media") as socket:
                await socket.send(b'{"event": "\xc3"}', text=True)
                try:
                    async with asyncio.timeout(5):
                        async for _ in socket:
                            pass
                except ConnectionClosed:
                    pass
            assert socket.close_code == 1007
            await asyncio.sleep(0.2)
    finally:
        uvicorn_log.removeHandler(caplog.handler)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert any("not UTF-8" in r.getMessage() for r in caplog.records)
