"""A call's record never depends on the caller staying on the line: each turn is stored when its reply is
decided and again when its speaking ends (played, barged in on, cut by a hang-up)."""

from __future__ import annotations

import asyncio
import time

from tests.telephony.conftest import completed_call
from tests.telephony.test_calls import QUESTION, choose_german

TICKET = "Was kostet das Deutschlandticket?"


async def test_caller_who_speaks_over_an_answer_and_then_hangs_up_mid_answer_leaves_both_turns_on_record(
        twilio, speech, store):
    # Made before the call: synthesising them blocks the simulated caller, whose audio would then come in a burst.
    question, ticket = speech(QUESTION), speech(TICKET)
    call = await twilio.incoming_call()
    async with call.connect() as line:
        await choose_german(line)
        await line.say(question, trailing_silence_s=0.3)
        await line.wait_for_audio(since=line.spoken_until, timeout_s=60)  # the answer starts...
        await asyncio.sleep(1.0)
        started = time.monotonic()
        await line.say(ticket, trailing_silence_s=0.3)  # ...and the caller speaks over it
        assert line.clears and line.clears[-1] - started < 1.5  # the bot stopped as soon as the caller spoke
        # The second answer plays a second (a scrap of the first, in flight when it was cut, is not it)...
        await line.wait_until(lambda: line.heard_seconds(line.spoken_until) >= 1.0, 60, "the second answer")
        await line.hang_up()  # ...and the caller is gone
    detail = await completed_call(store, call.call_sid)
    assert detail.call.outcome == "hung_up"
    assert len(detail.turns) == 2, [(t.transcript, t.ending, t.timings_ms) for t in detail.turns]
    first, second = detail.turns
    assert (first.topic, first.ending, first.barge_in) == ("address-registration", "barged_in", True)
    assert (second.topic, second.ending) == ("deutschlandticket", "hung_up"), second
    assert "63" in second.answer and second.sources  # the whole reply is on record, though little was heard
    assert "voice_to_voice" in second.timings_ms


async def test_an_answer_heard_to_the_end_is_recorded_as_played(twilio, speech, store):
    ticket = speech(TICKET)
    call = await twilio.incoming_call()
    async with call.connect() as line:
        await choose_german(line)
        await line.say(ticket, trailing_silence_s=0.3)
        await line.wait_for_answer(quiet_s=3.0)
        await line.hang_up()
    [turn] = (await completed_call(store, call.call_sid)).turns
    assert (turn.topic, turn.ending, turn.barge_in) == ("deutschlandticket", "played", False)
