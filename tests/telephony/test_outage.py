"""A phone call while the transcript database goes down and comes back: the caller notices nothing, and every
turn reaches the database exactly once. A real PostgreSQL server of this module's own is stopped mid-call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from review.journal import JournaledSink
from review.models import CallStatus, Turn
from review.store import TranscriptStore
from tests.review.postgres import MISSING, ThrowawayPostgres, find_binaries
from tests.telephony.conftest import TUESDAY_10, serve
from tests.telephony.test_calls import QUESTION, choose_german
from tests.telephony.test_recording import TICKET


@pytest.fixture(scope="module")
def postgres() -> Iterator[ThrowawayPostgres]:
    binaries = find_binaries()
    if binaries is None:
        pytest.fail(MISSING, pytrace=False)
    server = ThrowawayPostgres(binaries)
    server.start()
    yield server
    server.stop()


async def test_a_call_goes_on_while_the_database_is_down_and_every_turn_reaches_it_once(
        voice_services, dialogue, fake_api, speech, postgres, tmp_path):
    question, ticket = speech(QUESTION), speech(TICKET)
    store = TranscriptStore(postgres.empty_database_url())
    journal = JournaledSink(store, tmp_path / "journal", retry_min_s=0.2, retry_max_s=1.0)
    journal.start()
    try:
        with serve(voice_services, dialogue, fake_api, journal) as server:
            server.clock.moment = TUESDAY_10
            call = await server.twilio.incoming_call()
            async with call.connect() as line:
                await choose_german(line)
                await line.say(question, trailing_silence_s=0.3)
                await line.wait_for_answer(quiet_s=3.0)
                await asyncio.to_thread(postgres.halt)  # the database goes away mid-call
                assert (await call.status("in-progress")).status_code == 204  # Twilio still gets its answer
                await line.say(ticket, trailing_silence_s=0.3)
                answer = await line.wait_for_answer(quiet_s=3.0)
                await line.hang_up()
            assert answer.seconds > 3.0  # answered as if nothing had happened
            deadline = time.monotonic() + 30
            while journal.health().pending < 4 and time.monotonic() < deadline:  # turn 1 twice, status, end
                await asyncio.sleep(0.1)
            health = journal.health()
            assert health.store == "down" and health.pending >= 4, health
        await asyncio.to_thread(postgres.resume)
        assert await asyncio.to_thread(journal.wait_flushed, 60), journal.health()
    finally:
        if not postgres.is_running():
            postgres.resume()
        journal.close()
    detail = store.get_call(call.call_sid)
    assert detail is not None and detail.call.outcome == "hung_up"
    assert [(t.index, t.topic, t.ending) for t in detail.turns] == [
        (0, "address-registration", "played"), (1, "deutschlandticket", "played")]
    assert [status for status, _ in detail.statuses] == ["in-progress"]
    with store.engine.connect() as db:
        rows = [db.execute(select(func.count()).select_from(table).where(table.call_id == call.call_sid))
                .scalar_one() for table in (Turn, CallStatus)]
    assert rows == [2, 1]
    store.close()


async def test_a_caller_is_greeted_although_the_database_is_down_when_the_call_comes_in(
        voice_services, dialogue, fake_api, postgres):
    """Even without the journal: the call's start is written beside the call, never before it."""
    store = TranscriptStore(postgres.empty_database_url())
    await asyncio.to_thread(postgres.halt)
    try:
        with serve(voice_services, dialogue, fake_api, store) as server:
            call = await server.twilio.incoming_call()
            async with call.connect() as line:
                await line.wait_until(lambda: line.heard_seconds(0) >= 2.0, 30, "the welcome")  # in our own voice
                await line.hang_up()
            assert not fake_api.updates(call.call_sid)  # no apology handed to Twilio: nothing was wrong for the caller
    finally:
        await asyncio.to_thread(postgres.resume)
        store.close()
