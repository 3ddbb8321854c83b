"""Nothing a caller says or is told, and not their number, reaches the log: at any level, from any library."""

from __future__ import annotations

import logging

from tests.telephony.conftest import completed_call
from tests.telephony.test_calls import QUESTION, choose_german

CALLER = "+4915187654321"


def leaked(caplog, *secrets: str) -> list[str]:
    """The log lines (with their tracebacks) that contain any of `secrets`."""
    found = []
    for record in caplog.records:
        text = record.getMessage() + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
        found += [f"{record.name}: {text[:200]}" for secret in secrets if secret.lower() in text.lower()]
    return found


async def test_a_whole_call_leaves_no_words_and_no_number_in_the_log(twilio, speech, store, caplog):
    caplog.set_level(logging.DEBUG)
    question = speech(QUESTION)
    call = await twilio.incoming_call(from_number=CALLER)
    async with call.connect() as line:
        await choose_german(line)
        await line.say(question, trailing_silence_s=0.3)
        await line.wait_for_answer(quiet_s=3.0)
        await line.hang_up()
    detail = await completed_call(store, call.call_sid)
    [turn] = detail.turns
    assert caplog.records, "nothing was logged at all: the scan would prove nothing"
    assert any(call.call_sid in r.getMessage() for r in caplog.records)  # calls are named by id instead
    words = [w for w in turn.transcript.split() if len(w) > 4] + ["zwei Wochen", "Wohnungsgeber"]
    assert not leaked(caplog, CALLER, CALLER[3:], *words)
