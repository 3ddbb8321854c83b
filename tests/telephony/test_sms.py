"""Links by text message: offered after an answer with sources, sent only with the caller's yes, once, to a
number that can receive one, through the real `twilio` client against the local fake of the REST API."""

from __future__ import annotations

import asyncio
import logging

import pytest

from telephony.rest import CallControl
from telephony.sms import SmsError, TextMessages, can_receive_sms, link_message
from tests.telephony.conftest import ACCOUNT_SID, AUTH_TOKEN, TUESDAY_10, completed_call, serve
from tests.telephony.test_calls import QUESTION, choose_german
from tests.telephony.test_quiet_logs import leaked

SENDER = "+4915799990000"
MOBILE = "+4915112345678"
LANDLINE = "+4964411234567"


@pytest.fixture(scope="module")
def texting_server(voice_services, dialogue, fake_api, store):
    """The phone line with a sender number for text messages (the session's server has none)."""
    with serve(voice_services, dialogue, fake_api, store, overrides={"twilio.sms_from": SENDER}) as running:
        running.clock.moment = TUESDAY_10
        yield running


def test_only_numbers_that_can_receive_a_text_message_get_one():
    assert can_receive_sms(MOBILE) and can_receive_sms("+4917612345678") and can_receive_sms("+4916012345678")
    assert can_receive_sms("+447700900123")  # abroad we cannot tell a landline: Twilio says if it fails
    for number in (LANDLINE, "+4930123456", "+498001234567", "anonymous", "", None, "015112345678"):
        assert not can_receive_sms(number), number


def configured(operator):
    """The operator's details once the centre has entered its real ones (none marked as an example)."""
    return operator.model_copy(update={"example_values": ()})


def test_the_message_names_the_topic_in_the_callers_language_with_links_and_contact(dialogue, settings):
    reply = dialogue.answer(dialogue.knowledge.topics["address-registration"], "de", 1.0, QUESTION)
    body = link_message(reply, dialogue.knowledge.topics, dialogue.phrases).body(dialogue.phrases,
                                                                                    configured(settings.operator))
    lines = body.split("\n")
    assert lines[0] == "Welcomecenter Mittelhessen: Die Anmeldung Ihrer Wohnung"
    assert lines[1] == "https://www.gesetze-im-internet.de/bmg/__17.html"
    assert lines[-1] == (f"Kontakt: {settings.operator.phone}, {settings.operator.email}, "
                         f"{settings.operator.website}")
    assert 2 <= len(lines) - 2 <= 4


def test_after_a_noted_callback_the_message_says_so_with_the_contact(dialogue, settings):
    from pipeline.dialogue import Reply

    callback = Reply("tr", "answer", dialogue.phrases.say("tr", "callback_saved"), intent="callback")
    operator = configured(settings.operator)
    body = link_message(callback, dialogue.knowledge.topics, dialogue.phrases).body(dialogue.phrases, operator)
    contact = f"İletişim: {operator.phone}, {operator.email}, {operator.website}"
    assert body.split("\n") == ["Welcomecenter Mittelhessen: Geri arama talebiniz alındı", contact]


def test_example_contact_details_stay_out_of_the_message(dialogue, settings):
    reply = dialogue.answer(dialogue.knowledge.topics["address-registration"], "de", 1.0, QUESTION)
    body = link_message(reply, dialogue.knowledge.topics, dialogue.phrases).body(dialogue.phrases,
                                                                                    settings.operator)
    operator = settings.operator
    assert not [value for value in (operator.phone, operator.email, operator.website) if value in body], body
    assert body.split("\n")[0] == "Welcomecenter Mittelhessen: Die Anmeldung Ihrer Wohnung"


async def test_the_real_twilio_client_sends_one_message_through_the_messages_api(fake_api):
    texts = TextMessages(CallControl(ACCOUNT_SID, AUTH_TOKEN, fake_api.base_url).client, SENDER)
    to = "+4917600000001"
    sid = await texts.send("CA" + "5" * 32, to, "Hallo")
    [message] = fake_api.messages(to)
    assert sid.startswith("SM") and message.authorized
    assert (message.form["From"], message.form["Body"]) == (SENDER, "Hallo")
    with pytest.raises(SmsError):
        await texts.send("CA" + "5" * 32, LANDLINE, "Hallo")
    with pytest.raises(SmsError):
        await TextMessages(texts.client, None).send("CA" + "5" * 32, to, "Hallo")  # no sender configured
    assert len(fake_api.messages(to)) == 1


async def test_a_message_twilio_refuses_raises_without_the_number_in_the_error(fake_api):
    texts = TextMessages(CallControl(ACCOUNT_SID, AUTH_TOKEN, fake_api.base_url).client, SENDER)
    fake_api.fail(500)
    try:
        with pytest.raises(SmsError) as refused:
            await texts.send("CA" + "6" * 32, "+4917600000002", "Hallo")
    finally:
        fake_api.recover()
    assert "500" in str(refused.value) and "17600000002" not in str(refused.value)
    assert not fake_api.messages("+4917600000002")


async def test_caller_who_presses_1_after_the_offer_gets_one_text_message_with_the_links(texting_server, speech,
                                                                                          caplog):
    caplog.set_level(logging.DEBUG)
    call = await texting_server.twilio.incoming_call(from_number=MOBILE)
    async with call.connect() as line:
        await choose_german(line)
        await line.say(speech(QUESTION), trailing_silence_s=0.3)
        await line.wait_for_answer(quiet_s=5.0)  # the answer, then the offer
        await line.press("1")
        sent = await asyncio.to_thread(texting_server.api.wait_for, lambda: texting_server.api.messages(MOBILE), 20)
        await line.wait_for_answer(since=line.spoken_until, quiet_s=1.0)  # "Gut, ich schicke Ihnen die Links..."
        await line.press("1")  # again: still one message per call (and now 1 is the menu's German again)
        await asyncio.sleep(1.0)
        await line.hang_up()
    assert sent
    [message] = texting_server.api.messages(MOBILE)
    assert message.form["From"] == SENDER
    body = message.form["Body"]
    assert "Die Anmeldung Ihrer Wohnung" in body and "https://www.gesetze-im-internet.de/bmg/__17.html" in body
    detail = await completed_call(texting_server.store, call.call_sid)
    assert [turn.intent for turn in detail.turns][-1] == "sms", [(t.transcript, t.intent) for t in detail.turns]
    assert "sms sent" in [status for status, _ in detail.statuses]
    assert not leaked(caplog, MOBILE, MOBILE[3:], "Anmeldung Ihrer Wohnung", "gesetze-im-internet")  # nor the log


async def test_caller_who_says_yes_gets_the_links_by_text_message(texting_server, speech):
    number = "+4916012345678"
    call = await texting_server.twilio.incoming_call(from_number=number)
    async with call.connect() as line:
        await choose_german(line)
        await line.say(speech(QUESTION), trailing_silence_s=0.3)
        await line.wait_for_answer(quiet_s=5.0)
        await line.say(speech("Ja, das wäre gut."), trailing_silence_s=0.3)
        sent = await asyncio.to_thread(texting_server.api.wait_for, lambda: texting_server.api.messages(number), 30)
        await line.hang_up()
    assert sent, [(t.transcript, t.intent) for t in (await completed_call(texting_server.store, call.call_sid)).turns]
    [message] = texting_server.api.messages(number)
    assert "https://www.gesetze-im-internet.de/bmg/__17.html" in message.form["Body"]
    detail = await completed_call(texting_server.store, call.call_sid)
    [consent] = [turn for turn in detail.turns if turn.intent == "sms"]
    assert consent.transcript and consent.action == "answer"  # the caller's yes, on record


async def test_caller_who_says_no_gets_no_text_message(texting_server, speech):
    number = "+4917012345678"
    call = await texting_server.twilio.incoming_call(from_number=number)
    async with call.connect() as line:
        await choose_german(line)
        await line.say(speech(QUESTION), trailing_silence_s=0.3)
        await line.wait_for_answer(quiet_s=5.0)
        await line.say(speech("Nein, das brauche ich nicht."), trailing_silence_s=0.3)
        await line.wait_for_answer(quiet_s=2.0)
        await line.press("1")  # after a no, key 1 is the menu's German again, not consent
        await asyncio.sleep(1.5)
        await line.hang_up()
    detail = await completed_call(texting_server.store, call.call_sid)
    assert not texting_server.api.messages(number)
    assert detail.turns[-1].intent != "sms", [(t.transcript, t.intent) for t in detail.turns]
    assert not [status for status, _ in detail.statuses if status.startswith("sms")]


async def test_caller_on_a_landline_is_not_offered_a_text_message(texting_server, speech):
    call = await texting_server.twilio.incoming_call(from_number=LANDLINE)
    async with call.connect() as line:
        await choose_german(line)
        await line.say(speech(QUESTION), trailing_silence_s=0.3)
        await line.wait_for_answer(quiet_s=5.0)
        await line.press("1")  # nothing was offered: the key picks German, as in the menu
        await asyncio.sleep(1.5)
        await line.hang_up()
    detail = await completed_call(texting_server.store, call.call_sid)
    assert not texting_server.api.messages(LANDLINE)
    assert [turn.intent for turn in detail.turns] == [None]
