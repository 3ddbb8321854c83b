"""The media-socket token and the line count, on their own (no server)."""

from __future__ import annotations

import base64
import json

import pytest

from telephony.capacity import CallSlots, SeenCalls
from telephony.config import Server, Twilio, serving_refusal
from telephony.tokens import RESUME_CALLBACK, InvalidStreamToken, StreamGrant, StreamTokens


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_carries_its_grant_back_for_its_own_call_only():
    tokens = StreamTokens.from_auth_token("auth-token")
    token = tokens.issue(StreamGrant("CA1", language="de", resume=RESUME_CALLBACK))
    grant = tokens.verify(token, "CA1")
    assert (grant.language, grant.resume) == ("de", RESUME_CALLBACK)
    with pytest.raises(InvalidStreamToken, match="another call"):
        tokens.verify(token, "CA2")


@pytest.mark.parametrize("token", ["ä" + "A" * 40 + ".sig", "Zm9v.\u00e9", 12345, ["a.b"], {"a": 1}],
                         ids=["non-ascii", "escaped", "number", "list", "object"])
def test_a_token_of_any_shape_or_characters_is_refused_as_a_token(token):
    with pytest.raises(InvalidStreamToken):
        StreamTokens.from_auth_token("auth-token").verify(token, "CA1")


def test_a_payload_with_wrong_types_is_refused_even_when_signed():
    tokens = StreamTokens.from_auth_token("auth-token")
    body = base64.urlsafe_b64encode(json.dumps({"call_sid": ["CA1"], "expires_at": "later"}).encode()).decode()
    signed = f"{body}.{tokens._sign(body)}"  # as only the server could sign it
    with pytest.raises(InvalidStreamToken, match="unreadable"):
        tokens.verify(signed, "CA1")


def test_the_slot_keeps_the_callers_number_until_the_call_ends():
    slots = CallSlots(limit=2, hold_s=10)
    assert slots.reserve("CA1", "+49641000")
    assert slots.connect("CA1") and slots.caller_number("CA1") == "+49641000"
    slots.release("CA1")
    assert slots.caller_number("CA1") is None


def test_a_call_is_given_a_stream_once_also_when_another_instance_recorded_it():
    recorded = {"CA-elsewhere"}
    seen = SeenCalls(capacity=2, known=recorded.__contains__)
    assert seen.first_time("CA1") and not seen.first_time("CA1")
    assert not seen.first_time("CA-elsewhere")
    def store_down(_sid):
        raise ConnectionError("database down")
    assert SeenCalls(known=store_down).first_time("CA2")  # an outage does not keep real callers out


@pytest.mark.parametrize(("token", "url", "refused"), [
    ("change-me", "https://hotline.example.org", True),
    ("", "https://hotline.example.org", True),
    ("change-me", "http://127.0.0.1:8000", False),
    ("change-me", "http://localhost:8000", False),
    ("change-me", "http://[::1]:8000", False),
    ("0123456789abcdef0123456789abcdef", "https://hotline.example.org", False),
])
def test_the_placeholder_auth_token_is_refused_only_on_a_public_address(token, url, refused):
    problem = serving_refusal(Twilio(auth_token=token), Server(public_url=url))
    assert (problem is not None) == refused
    if refused:
        assert "TWILIO_AUTH_TOKEN" in problem and url in problem


@pytest.mark.parametrize("mangle", [
    lambda t: "", lambda t: "no-dot", lambda t: t[:-2] + "xx", lambda t: "A" + t[1:], lambda t: t + "."
], ids=["empty", "no-signature", "bad-signature", "changed-payload", "extra-part"])
def test_a_forged_or_damaged_token_is_refused(mangle):
    tokens = StreamTokens.from_auth_token("auth-token")
    with pytest.raises(InvalidStreamToken):
        tokens.verify(mangle(tokens.issue(StreamGrant("CA1"))), "CA1")


def test_a_token_expires_and_another_account_cannot_mint_one():
    clock = Clock()
    tokens = StreamTokens(b"k" * 32, ttl_s=120, now=clock)
    token = tokens.issue(StreamGrant("CA1"))
    clock.now += 121
    with pytest.raises(InvalidStreamToken, match="expired"):
        tokens.verify(token, "CA1")
    other = StreamTokens.from_auth_token("someone-else").issue(StreamGrant("CA1"))
    with pytest.raises(InvalidStreamToken, match="signature"):
        StreamTokens.from_auth_token("auth-token").verify(other, "CA1")


def test_slots_count_promised_and_live_calls_and_free_unkept_promises():
    clock = Clock()
    slots = CallSlots(limit=2, hold_s=10, now=clock)
    assert slots.reserve("CA1") and slots.reserve("CA2")
    assert not slots.reserve("CA3")
    assert slots.reserve("CA1")  # the same call asking again keeps its slot
    assert slots.connect("CA1") and not slots.connect("CA1")  # one live stream per call
    clock.now += 11  # CA2 never connected
    assert slots.reserve("CA3")
    assert not slots.connect("CA2")
    slots.release("CA1")
    assert slots.in_use == 1
