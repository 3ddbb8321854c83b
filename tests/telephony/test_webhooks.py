"""Twilio's webhooks: only Twilio's signature opens the door, and the TwiML says where the audio goes."""

from __future__ import annotations

import base64
import json

import httpx

from telephony.simulator import TwimlReply, twilio_signature
from tests.telephony.conftest import STAFF_NUMBER


async def test_forged_or_unsigned_voice_webhook_gets_403_and_nothing_else(twilio):
    params = twilio.call_params("CA" + "1" * 32, "+4915100000001", "+4964410000001")
    forged = await twilio.post("/twilio/voice", params, signature="bm90IGEgc2lnbmF0dXJl")
    unsigned = await twilio.post("/twilio/voice", params, signature=None)
    other_token = type(twilio)(twilio.server_url, twilio.account_sid, "someone-elses-token")
    wrong_key = await other_token.post("/twilio/voice", params)
    for response in (forged, unsigned, wrong_key):
        assert response.status_code == 403
        assert response.content == b""


async def test_signature_over_other_parameters_is_refused(twilio):
    params = twilio.call_params("CA" + "2" * 32, "+4915100000001", "+4964410000001")
    signature = twilio_signature(twilio.auth_token, twilio.public_url + "/twilio/voice", params)
    tampered = dict(params, From="+4915199999999")
    response = await twilio.post("/twilio/voice", tampered, signature=signature)
    assert response.status_code == 403


async def test_signed_call_gets_a_stream_with_a_call_bound_token(twilio, server):
    call = await twilio.incoming_call()
    reply = call.twiml
    assert reply.status == 200
    assert reply.stream_url == server.url.replace("http", "ws") + "/twilio/media"
    token = reply.parameters["token"]
    assert token.count(".") == 1 and len(token) > 40
    again = await twilio.incoming_call()
    assert again.twiml.parameters["token"] != token


async def test_the_media_token_carries_nothing_personal(twilio):
    call = await twilio.incoming_call(from_number="+4915112345678")
    payload = call.twiml.parameters["token"].split(".")[0]
    readable = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    assert "15112345678" not in readable
    assert set(json.loads(readable)) == {"call_sid", "expires_at", "language", "resume"}


async def test_a_replayed_voice_webhook_gets_no_second_stream(twilio):
    call = await twilio.incoming_call()
    assert call.twiml.stream_url
    params = twilio.call_params(call.call_sid, call.from_number, call.to_number)
    response = await twilio.post("/twilio/voice", params)  # signed exactly as Twilio signed it the first time
    replay = TwimlReply.parse(response.status_code, response.text)
    assert replay.status == 200 and replay.stream_url is None and "<Hangup" in replay.body


async def test_an_oversized_webhook_body_is_refused_before_it_is_read(twilio, server):
    params = twilio.call_params("CA" + "3" * 32, "+4915100000001", "+4964410000001")
    huge = dict(params, Padding="x" * 200_000)
    response = await twilio.post("/twilio/voice", huge)  # even correctly signed
    assert response.status_code == 413

    async def chunks():
        for _ in range(100):
            yield b"Padding=" + b"x" * 4096 + b"&"
    async with httpx.AsyncClient() as client:  # chunked: no length to check up front
        chunked = await client.post(server.url + "/twilio/voice", content=chunks(), headers={
            "X-Twilio-Signature": "c2ln", "Content-Type": "application/x-www-form-urlencoded"})
    assert chunked.status_code == 413
    assert (await twilio.post("/twilio/voice", params)).status_code == 200  # and the server goes on


async def test_status_callbacks_are_recorded_with_the_call(twilio, store):
    call = await twilio.incoming_call()
    response = await call.status("completed")
    assert response.status_code == 204
    assert (await call.twilio.post("/twilio/status", {"CallSid": call.call_sid, "CallStatus": "busy"},
                                   signature="forged")).status_code == 403
    detail = store.get_call(call.call_sid)
    assert [status for status, _ in detail.statuses] == ["completed"]


def test_twiml_parser_reads_dial():
    body = ('<?xml version="1.0"?><Response><Dial action="http://x/twilio/dial-result?lang=de" timeout="25">'
            "<Number>+4964410000000</Number></Dial></Response>")
    reply = TwimlReply.parse(200, body)
    assert reply.dial_number == "+4964410000000"
    assert reply.dial_attributes["timeout"] == "25"


async def test_staff_picking_up_a_transfer_hear_the_language_and_question_in_german(twilio, server, store, caplog):
    call = await twilio.incoming_call(from_number="+4915112345678")
    question = "Wo kann ich meinen Aufenthaltstitel verlängern?"
    store.hold_transfer_question(call.call_sid, question, server.clock.moment)  # as the transfer does
    whisper_url = f"{server.url}/twilio/whisper?call={call.call_sid}&lang=tr"
    with caplog.at_level("DEBUG"):
        whisper = await call.staff_picks_up(whisper_url, STAFF_NUMBER)
    assert whisper.status == 200 and whisper.say_languages == ("de-DE",)
    assert whisper.says == (f"Anruf von der Hotline. Sprache: Türkisch. Frage: {question}",)
    assert "Aufenthaltstitel" not in caplog.text  # the question is never logged
    # The whisper leaves the question for the dial result (a callback if nobody answers... or a second try).
    assert store.take_transfer_question(call.call_sid) == question


async def test_whisper_without_a_question_says_so_and_finds_the_caller_by_parent_call_sid(twilio, server):
    call = await twilio.incoming_call()
    whisper = await call.staff_picks_up(f"{server.url}/twilio/whisper?lang=ar", STAFF_NUMBER)
    assert whisper.says == ("Anruf von der Hotline. Sprache: Arabisch. Der Anrufer hat noch keine Frage gestellt.",)


async def test_unsigned_or_forged_whisper_gets_403(twilio, server):
    call = await twilio.incoming_call()
    url = f"{server.url}/twilio/whisper?call={call.call_sid}&lang=de"
    for signature in (None, "bm90IGEgc2lnbmF0dXJl"):
        refused = await call.staff_picks_up(url, STAFF_NUMBER, signature=signature)
        assert refused.status == 403 and refused.body == ""


def test_a_long_question_is_shortened_for_the_whisper():
    from telephony.whisper import Whisper

    question = " ".join(f"Wort{i}" for i in range(40))
    text = Whisper("de", question).text()
    assert text.startswith("Anruf von der Hotline. Sprache: Deutsch. Frage: Wort0 Wort1")
    assert "Wort24 ..." in text and "Wort25" not in text
