"""Consent in the caller's language: a caller who chooses Turkish hears, in Turkish, that a transcript is kept
and how to object; pressing the star key then deletes what was already kept of the call.

What the caller heard is checked against the very clip the hotline plays (its answer-audio cache), found in
the caller's earpiece by normalised cross-correlation: Whisper base does not understand Kokoro's Turkish well
enough to check it by ear.
"""

from __future__ import annotations

import asyncio
import logging
import time

import numpy as np

from tests.telephony.conftest import completed_call
from tests.telephony.test_calls import QUESTION
from voice.audio import Audio

TURKISH_KEY = "4"  # Deutsch 1, English 2, العربية 3, Türkçe 4


def plays(heard: Audio, clip: Audio, threshold: float = 0.8) -> bool:
    """Whether `clip` is in `heard` (both at the phone's rate): the best normalised correlation over all lags.
    The heard audio is padded with silence, so a clip whose first or last few milliseconds were lost to a
    `clear` still counts."""
    c = clip.at_rate(heard.rate).samples.astype(np.float64)
    h = np.pad(heard.samples.astype(np.float64), len(c))
    if not np.any(c):
        return False
    size = 1 << int(np.ceil(np.log2(len(h) + len(c))))
    correlation = np.fft.irfft(np.fft.rfft(h, size) * np.conj(np.fft.rfft(c, size)), size)[: len(h) - len(c) + 1]
    energy = np.concatenate([[0.0], np.cumsum(h**2)])
    window = np.sqrt(np.maximum(energy[len(c):] - energy[: len(h) - len(c) + 1], 1e-12))
    return float(np.max(correlation / (window * np.linalg.norm(c)))) >= threshold


async def test_a_turkish_caller_hears_the_transcript_notice_in_turkish_and_objecting_deletes_the_turns(
        twilio, speech, store, voice_services, caplog):
    caplog.set_level(logging.INFO, logger="hotline")  # our log lines carry no words: the story of a failure
    phrases, answers = voice_services.dialogue.phrases, voice_services.answers
    notice = answers.get_or_render(phrases.say("tr", "consent_notice"), "tr", 8000)
    objected = answers.get_or_render(phrases.say("tr", "consent_objected"), "tr", 8000)
    german_notice = answers.get_or_render(phrases.say("de", "consent_notice"), "de", 8000)
    question = speech(QUESTION)
    call = await twilio.incoming_call()
    async with call.connect() as line:
        await line.wait_for_audio(since=0)
        await line.press(TURKISH_KEY)
        await line.wait_until(lambda: bool(line.clears), 5, "clear")
        chosen = line.clears[-1]
        await line.wait_for_answer(since=chosen, quiet_s=1.5)  # "Tamam, Türkçe devam edelim." and the notice
        assert plays(line.heard(chosen), notice), "the notice was not played in Turkish"
        assert not plays(line.heard(chosen), german_notice)
        await line.say(question, trailing_silence_s=0.3)  # any words: the turn is recorded
        asked = line.spoken_until
        await line.wait_for_answer(quiet_s=2.0)
        deadline = time.monotonic() + 20
        while not (await asyncio.to_thread(store.get_call, call.call_sid)).turns:
            if time.monotonic() > deadline:
                story = [r.getMessage() for r in caplog.records if call.call_sid in r.getMessage()]
                raise AssertionError(f"the turn was never stored; the caller heard "
                                     f"{line.heard_seconds(asked):.1f} s after asking; the call's log: {story}")
            await asyncio.sleep(0.1)
        spoken = line.spoken_until
        await line.press("*")
        pressed = time.monotonic()
        await line.wait_for_answer(since=pressed, quiet_s=1.5)
        assert plays(line.heard(pressed), objected), "the objection was not confirmed in Turkish"
        assert not plays(line.heard(spoken), notice)  # the notice is given once per call
        await line.hang_up()
    detail = await completed_call(store, call.call_sid)
    assert detail.turns == ()  # what was stored before the star key is gone too
    assert detail.call.outcome == "hung_up (transcript objected)"
