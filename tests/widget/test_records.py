"""What the widget leaves on record: the turn survives the visitor closing the panel mid-answer, the "keep no
transcript" switch deletes what was kept, and a store that fails does not end the conversation."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline import logs
from review.store import TranscriptStore
from tests.widget.conftest import widget_server
from tests.widget.test_socket import next_json, session

QUESTION = "How much does the Deutschlandticket cost?"


@pytest.fixture
def own_store(tmp_path: Path) -> Iterator[TranscriptStore]:
    """A store of this test's own, so the only widget call in it is the test's."""
    store = TranscriptStore(f"sqlite:///{tmp_path / 'data' / 'hotline.db'}")
    yield store
    store.close()


async def the_call(store: TranscriptStore, ended: bool = True, turns: int | None = None, timeout_s: float = 20.0):
    """The only call in `store`, once it has ended (or, with `ended=False`, once it has `turns` turns)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        calls = await asyncio.to_thread(store.list_calls)
        if calls:
            detail = await asyncio.to_thread(store.get_call, calls[0].id)
            done = detail.call.ended_at is not None if ended else turns is None or len(detail.turns) == turns
            if detail is not None and done:
                return detail
        await asyncio.sleep(0.1)
    raise AssertionError(f"the widget call has no {'completed record' if ended else f'{turns} turns'}")


async def test_a_visitor_who_closes_the_widget_mid_answer_leaves_the_turn_on_record(voice_services, own_store):
    with widget_server(voice_services, own_store) as server:
        async with session(server) as ws:
            await ws.send(json.dumps({"type": "text", "text": QUESTION}))
            reply = await next_json(ws)
            assert reply["type"] == "reply"
            audio = await asyncio.wait_for(ws.recv(), 60)
            assert isinstance(audio, bytes)  # the answer has begun to play: the visitor closes the panel
        detail = await the_call(own_store)
    [turn] = detail.turns
    assert (turn.transcript, turn.topic, turn.ending) == (QUESTION, "deutschlandticket", "hung_up")
    assert "63 euros" in turn.answer and turn.sources


async def test_the_keep_no_transcript_switch_deletes_what_was_kept_and_keeps_nothing_more(
        voice_services, own_store):
    with widget_server(voice_services, own_store) as server:
        async with session(server) as ws:
            await ws.send(json.dumps({"type": "text", "text": QUESTION}))
            assert (await next_json(ws))["type"] == "reply"
            await the_call(own_store, ended=False, turns=1)  # kept, as the notice says
            await ws.send(json.dumps({"type": "transcript", "keep": False}))
            assert await next_json(ws) == {"type": "transcript", "keep": False}
            assert (await the_call(own_store, ended=False, turns=0)).turns == ()
            await ws.send(json.dumps({"type": "text", "text": "Wo gilt das Deutschlandticket?"}))
            assert (await next_json(ws))["type"] == "reply"
        detail = await the_call(own_store)
    assert detail.turns == () and detail.call.outcome == "completed (transcript objected)"


async def test_a_visitor_who_says_no_transcript_in_the_hello_is_never_transcribed(voice_services, own_store):
    with widget_server(voice_services, own_store) as server:
        async with session(server, hello=False) as ws:
            await ws.send(json.dumps({"type": "hello", "lang": "en", "transcript": False}))
            assert (await next_json(ws))["type"] == "ready"
            await ws.send(json.dumps({"type": "text", "text": QUESTION}))
            assert (await next_json(ws))["type"] == "reply"
        detail = await the_call(own_store)
    assert detail.turns == () and detail.call.outcome.endswith("(transcript objected)")


async def test_a_callback_the_store_cannot_take_is_reported_and_the_conversation_goes_on(
        voice_services, tmp_path: Path):
    store = TranscriptStore(f"sqlite:///{tmp_path / 'data' / 'hotline.db'}")
    with widget_server(voice_services, store) as server:
        async with session(server) as ws:
            store.engine.dispose()
            (tmp_path / "data").rename(tmp_path / "gone")  # the database went away with its folder
            await ws.send(json.dumps({"type": "callback", "name": "A", "phone": "+49 171 2345678", "email": "",
                                      "question": "Blaue Karte", "consent": True}))
            problem = await next_json(ws)
            assert problem["code"] == "callback_failed" and problem["fatal"] is False
            await ws.send(json.dumps({"type": "text", "text": QUESTION}))
            reply = await next_json(ws)
            assert reply["type"] == "reply" and "63 euros" in reply["answer"]
    store.close()


async def test_a_widget_conversation_and_callback_leave_no_words_name_or_number_in_the_log(
        voice_services, own_store, caplog):
    logs.keep_contents_out()  # as `hotline serve` and the app factory set up logging
    caplog.set_level(logging.DEBUG)
    name, number, email = "Oksana Kovalenko", "+49 171 7654321", "oksana.k@example.org"
    with widget_server(voice_services, own_store) as server:
        async with session(server) as ws:
            await ws.send(json.dumps({"type": "text", "text": QUESTION}))
            assert (await next_json(ws))["type"] == "reply"
            await ws.send(json.dumps({"type": "callback", "name": name, "phone": number, "email": email,
                                      "question": "Mein Visum läuft ab", "consent": True}))
            while (message := await next_json(ws))["type"] != "callback":
                assert message["type"] != "error", message
        detail = await the_call(own_store)
    assert detail.turns and caplog.records
    secrets = [QUESTION, "Deutschlandticket", "63 euros", name, "Kovalenko", "7654321", email, "Visum"]
    lines = [r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
             for r in caplog.records]
    assert not [line[:200] for line in lines for secret in secrets if secret.lower() in line.lower()]
