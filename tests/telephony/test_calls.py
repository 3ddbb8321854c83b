"""Whole calls through the real server, pipecat pipeline, models and `twilio` client, on loopback.

Caller speech is made by the project's own synthesizer. Without a language, Whisper base mishears the only
German voices we have (Kokoro's Japanese speakers) at 8 kHz, so German callers choose German with the menu key
first, as a caller who is not understood would; recognising the language by ear is tested with an English
caller, whose voice (Piper) is native.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from telephony.simulator import TwimlReply
from tests.telephony.conftest import STAFF_NUMBER, SUNDAY_10, TUESDAY_10, completed_call
from voice.audio import Audio
from voice.tts import VoiceChoice

# Whisper base hears the test voice's "Wie melde ich meine Wohnung an?" on the phone path as "Wie melder, ist
# meine(r) Wohnung an", which the knowledge base answers at some stream offsets and meets with a choice question
# at others (issue #10). These tests are about the call, so they ask what the test voice is heard saying at every
# offset tried (26 of 26); recognition itself is measured by `hotline eval` and `make bench`.
QUESTION = "Wie kann ich meine Wohnung anmelden?"
STAFF = "Ich möchte mit einem Mitarbeiter sprechen."


async def choose_german(line) -> None:
    """Press 1 over the greeting, then hear "Gut, wir sprechen weiter auf Deutsch." to the end."""
    await line.wait_for_audio(since=0)
    await line.press("1")
    await line.wait_until(lambda: bool(line.clears), 5, "clear")
    await line.wait_for_answer(since=line.clears[-1], quiet_s=1.0)


async def test_german_caller_hears_the_answer_to_their_question(twilio, speech, voice_services, store):
    question = speech(QUESTION)
    call = await twilio.incoming_call()
    async with call.connect() as line:
        await choose_german(line)
        await line.say(question, trailing_silence_s=0.3)
        answer = await line.wait_for_answer(quiet_s=5.0)
        await line.hang_up()
    detail = await completed_call(store, call.call_sid)
    heard = voice_services.transcriber.transcribe(answer, language="de").text.lower()
    # "innerhalb von zwei Wochen anmelden"; else what the hotline heard says why
    assert "zwei wochen" in heard or "2 wochen" in heard, (heard, [t.transcript for t in detail.turns])
    assert (detail.call.channel, detail.call.outcome) == ("phone", "hung_up")
    assert detail.call.caller_number is None  # the number is kept only with a callback request
    [turn] = detail.turns
    assert (turn.language, turn.action, turn.topic, turn.ending) == ("de", "answer", "address-registration", "played")


async def test_caller_who_pauses_a_second_to_find_a_word_is_answered_once_for_the_whole_question(
        twilio, speech, store):
    # "äh" and a one-second pause: the turn model hears an unfinished turn, so the silence does not end it.
    half, rest = speech("Wie viel kostet das, äh"), speech("das Deutschlandticket im Monat?")
    call = await twilio.incoming_call()
    async with call.connect() as line:
        await choose_german(line)
        await line.say(Audio.concat([half, Audio.silence(1.0, half.rate), rest], half.rate), trailing_silence_s=0.3)
        await line.wait_for_answer(quiet_s=3.0)
        await line.hang_up()
    detail = await completed_call(store, call.call_sid)
    [turn] = detail.turns
    assert (turn.action, turn.topic) == ("answer", "deutschlandticket"), turn.transcript


async def test_caller_speaking_over_the_bot_gets_clear_and_the_bot_stops(twilio, speech):
    question = speech(QUESTION)
    call = await twilio.incoming_call()
    async with call.connect() as line:
        await line.wait_for_audio(since=0)
        started = time.monotonic()
        speaking = asyncio.create_task(line.say(question))
        await line.wait_until(lambda: bool(line.clears), timeout_s=5, what="clear")
        assert line.clears[0] - started < 1.5  # VAD needs a little speech first; then at once
        cut = line.clears[0]
        await speaking
        # Nothing more of the greeting after the clear: the next audio is the answer, after the question.
        assert not [c for c in line.heard_chunks if cut + 0.2 < c.starts < line.spoken_until and not c.cleared]
        await line.hang_up()


async def test_request_for_staff_while_open_puts_the_call_through_after_the_sentence(twilio, server, speech, store):
    server.clock.moment = TUESDAY_10
    request = speech(STAFF)
    call = await twilio.incoming_call()
    async with call.connect() as line:
        await choose_german(line)
        await line.say(request, trailing_silence_s=0.3)
        await asyncio.wait_for(line.closed.wait(), 60)  # the call has moved on: our stream ends
        said = line.heard_seconds(line.spoken_until)
    detail = await completed_call(store, call.call_sid)
    assert detail.call.outcome == "transferred", [(t.transcript, t.action) for t in detail.turns]
    [update] = server.api.updates(call.call_sid)
    assert update.authorized
    dial = TwimlReply.parse(200, update.form["Twiml"])
    assert dial.dial_number == STAFF_NUMBER
    assert dial.dial_attributes["timeout"] == "25"
    assert dial.dial_attributes["action"] == f"{server.url}/twilio/dial-result?lang=de"
    assert said > 2.0  # "Ich verbinde Sie jetzt..." was played first,
    [(heard_at, _)] = line.marks
    assert update.at >= heard_at  # and the call was moved only once Twilio reported it heard
    assert not server.api.hang_ups(call.call_sid)  # ending our stream did not hang up the transferred call
    assert detail.turns[-1].ending == "played"  # heard to the end (Twilio's mark says so) before the transfer
    # Staff pick up: before the caller is bridged, they hear in German who is calling and what they said.
    assert dial.number_attributes["url"] == f"{server.url}/twilio/whisper?call={call.call_sid}&lang=de"
    whisper = await call.staff_picks_up(dial.number_attributes["url"], STAFF_NUMBER)
    [said_to_staff] = whisper.says
    assert said_to_staff.startswith("Anruf von der Hotline. Sprache: Deutsch. Frage: "), said_to_staff
    assert "mitarbeiter" in said_to_staff.lower(), said_to_staff  # the caller's words, as recognised
    assert "<Hangup" in (await call.dial_ended(dial.dial_attributes["action"], "completed")).body


async def test_staff_not_answering_brings_the_caller_back_to_a_callback_offer(twilio, server, speech, store):
    server.clock.moment = TUESDAY_10
    yes = speech("Ja, das wäre gut.")
    call = await twilio.incoming_call(from_number="+4915112345678")
    async with call.connect() as line:  # a question, then a wish to speak to staff: put through
        await choose_german(line)
        await line.say(speech(QUESTION), trailing_silence_s=0.3)
        await line.wait_for_answer(quiet_s=3.0)
        await line.say(speech(STAFF), trailing_silence_s=0.3)
        await asyncio.wait_for(line.closed.wait(), 60)
    assert server.api.updates(call.call_sid)
    reply = await call.dial_ended(f"{server.url}/twilio/dial-result?lang=de", "no-answer")
    assert reply.stream_url and reply.parameters["token"]
    async with call.connect() as line:
        await line.wait_for_answer(since=0, quiet_s=1.0)  # "Möchten Sie einen Rückruf?"
        await line.say(yes, trailing_silence_s=0.3)
        await line.wait_for_answer(quiet_s=2.0)  # "Vielen Dank. Unser Team ruft Sie zurück."
        await line.hang_up()
    detail = await completed_call(store, call.call_sid)
    assert detail.callbacks, [(t.transcript, t.action, t.answer) for t in detail.turns]
    [callback] = detail.callbacks
    assert callback.number == "+4915112345678" and callback.language == "de"
    assert "wohnung" in callback.question.lower(), callback.question  # what they asked before, not their "yes"
    finished = await call.dial_ended(f"{server.url}/twilio/dial-result?lang=de", "completed")
    assert "<Hangup" in finished.body


async def test_request_for_staff_on_sunday_hears_the_next_opening_and_no_transfer(twilio, server, speech, store,
                                                                                  voice_services):
    server.clock.moment = SUNDAY_10
    request = speech(STAFF)
    call = await twilio.incoming_call()
    async with call.connect() as line:
        await choose_german(line)
        await line.say(request, trailing_silence_s=0.3)
        answer = await line.wait_for_answer(quiet_s=6.0)  # several sentences, synthesised one by one
        await line.hang_up()
    heard = voice_services.transcriber.transcribe(answer, language="de").text
    assert "erreichbar" in heard and "morgen" in heard, heard  # Sunday 10:00: "...wieder morgen um 9:00 Uhr"
    assert not server.api.for_call(call.call_sid)
    assert [t.action for t in (await completed_call(store, call.call_sid)).turns] == ["closed"]


async def test_caller_saying_goodbye_is_hung_up_after_the_farewell(twilio, server, speech, store):
    goodbye = speech("Das war alles, auf Wiederhören.")
    call = await twilio.incoming_call()
    async with call.connect() as line:
        await choose_german(line)
        await line.say(goodbye, trailing_silence_s=0.3)
        await asyncio.wait_for(line.closed.wait(), 60)
        farewell = line.heard_seconds(line.spoken_until)
    assert farewell > 1.5
    assert server.api.wait_for(lambda: server.api.hang_ups(call.call_sid), 10)
    assert (await completed_call(store, call.call_sid)).call.outcome == "goodbye"


async def test_caller_who_presses_star_keeps_their_words_out_of_the_transcript(twilio, speech, store):
    question = speech(QUESTION)
    call = await twilio.incoming_call()
    async with call.connect() as line:
        await line.wait_for_audio(since=0)
        await line.press("*")
        await line.wait_until(lambda: bool(line.clears), 5, "clear")
        pressed = time.monotonic()
        await line.wait_for_answer(since=pressed, quiet_s=1.0)  # "In Ordnung. ... kein Protokoll."
        await line.press("1")
        await line.wait_for_answer(since=time.monotonic(), quiet_s=1.0)
        await line.say(question, trailing_silence_s=0.3)
        await line.wait_for_answer(quiet_s=3.0)
        await line.hang_up()
    detail = await completed_call(store, call.call_sid)
    assert detail.call.outcome == "hung_up (transcript objected)"
    assert detail.turns == ()


@pytest.mark.parametrize("open_now", [True, False], ids=["open", "closed"])
async def test_more_calls_than_lines_hear_a_polite_message(voice_services, dialogue, fake_api, store, open_now):
    from tests.telephony.conftest import serve

    with serve(voice_services, dialogue, fake_api, store, max_calls=1) as busy_server:
        busy_server.clock.moment = TUESDAY_10 if open_now else SUNDAY_10
        twilio = busy_server.twilio
        first = await twilio.incoming_call()
        second = await twilio.incoming_call()
    assert first.twiml.stream_url
    reply = second.twiml
    assert reply.stream_url is None
    assert any("belegt" in text for text in reply.says) and any("busy" in text for text in reply.says)
    assert reply.dial_number == (STAFF_NUMBER if open_now else None)
    outcome = (await completed_call(store, second.call_sid)).call.outcome
    assert outcome == ("busy, transferred" if open_now else "busy")


async def test_english_caller_who_just_speaks_after_the_german_greeting_is_answered_in_english(
        twilio, voice_services, store):
    """No key pressed: the language is recognised by ear. Only English is tried here: it is the one language
    with a native voice to make caller speech (Piper); without the language, Whisper base mishears the
    Japanese-accented Kokoro German at 8 kHz (the German tests choose German by key, as such a caller would)."""
    from telephony.simulator import fluent

    # An English question in English words: the German "Deutschlandticket" in an English voice was misheard
    # now and then ("doggies one ticket") at 8 kHz.
    language, fact = "en", "blue card"
    question = "How much do I need to earn for an EU Blue Card?"
    spoken = fluent(voice_services.synthesizer.speak(question, language, VoiceChoice("piper", "en_US-joe-medium")))
    call = await twilio.incoming_call()
    async with call.connect() as line:
        await line.wait_for_answer(since=0, quiet_s=1.5)  # the whole greeting and menu
        await line.say(spoken, trailing_silence_s=0.3)
        answer = await line.wait_for_answer(quiet_s=3.0)
        await line.hang_up()
    [turn] = (await completed_call(store, call.call_sid)).turns
    assert (turn.language, turn.topic) == (language, "blue-card"), turn.transcript
    heard = voice_services.transcriber.transcribe(answer, language=language).text
    assert fact in heard.lower(), heard
