"""The media-socket token and the line count, on their own (no server)."""

from __future__ import annotations

import pytest

from telephony.capacity import CallSlots
from telephony.tokens import RESUME_CALLBACK, InvalidStreamToken, StreamGrant, StreamTokens


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_carries_its_grant_back_for_its_own_call_only():
    tokens = StreamTokens.from_auth_token("auth-token")
    token = tokens.issue(StreamGrant("CA1", caller_number="+49641", language="de", resume=RESUME_CALLBACK))
    grant = tokens.verify(token, "CA1")
    assert (grant.caller_number, grant.language, grant.resume) == ("+49641", "de", RESUME_CALLBACK)
    with pytest.raises(InvalidStreamToken, match="another call"):
        tokens.verify(token, "CA2")


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
