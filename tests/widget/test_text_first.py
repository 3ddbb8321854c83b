"""A typed question's answer shows as text the moment it is decided; its audio follows. A second question typed
while the first answer still plays is not kept waiting behind that audio."""

from __future__ import annotations

import asyncio
import json
import time

from tests.widget.test_socket import session

FIRST = "How much does the Deutschlandticket cost?"
SECOND = "What is the Blue Card?"


async def frames_until_reply(ws, timeout_s: float = 60.0) -> tuple[float, list]:
    """(when the next reply arrived, the frames before it)."""
    before = []
    async with asyncio.timeout(timeout_s):
        while True:
            frame = await ws.recv()
            if isinstance(frame, str) and json.loads(frame)["type"] == "reply":
                return time.monotonic(), before
            before.append(frame)


async def test_the_answer_text_comes_before_its_audio_and_a_second_question_does_not_wait_for_the_first(server):
    async with session(server) as ws:
        asked = time.monotonic()
        await ws.send(json.dumps({"type": "text", "text": FIRST}))
        first_reply, before = await frames_until_reply(ws)
        assert not [f for f in before if isinstance(f, bytes)]  # no audio before the text
        first_audio = await asyncio.wait_for(ws.recv(), 60)
        assert isinstance(first_audio, bytes)
        asked_again = time.monotonic()
        await ws.send(json.dumps({"type": "text", "text": SECOND}))
        second_reply, _ = await frames_until_reply(ws)
    print(f"text shown {first_reply - asked:.2f} s and {second_reply - asked_again:.2f} s after asking")
    assert second_reply - asked_again < 3.0, "the second answer's text waited behind the first answer's audio"
