"""Turn-taking with the real Smart Turn v3.2 model, Silero VAD and Whisper: callers may pause to find a word.

The German speech is Kokoro's (deterministic); "äh" at the end of a half question is what the model hears as a
turn not yet over. Audio is fed faster than real time; the turn events are timed on the stream's own clock.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from pipeline.listening import Listener
from voice.audio import Audio, over_phone_line

HALF = "Wie viel kostet das, äh"
REST = "das Deutschlandticket im Monat?"
WHOLE = "Wie viel kostet das Deutschlandticket im Monat?"


def spoken(speak, rate: int, *parts: str | float) -> Audio:
    """Speech and pauses (seconds) in order, then 3 s of silence, as the line at `rate` delivers it."""
    pieces = [Audio.silence(part, 24000) if isinstance(part, float) else speak(part, "de") for part in parts]
    audio = Audio.concat([*pieces, Audio.silence(3.0, 24000)], 16000)
    return over_phone_line(audio) if rate == 8000 else audio


def speech_end_s(audio: Audio) -> float:
    return float(np.nonzero(np.abs(audio.samples) > 0.02)[0][-1]) / audio.rate


def turns(voice_services, audio: Audio, language: str) -> list[tuple[str, float]]:
    """Each utterance heard: its transcript and how long after the last speech the turn was closed (in the
    stream's seconds)."""
    listener = Listener(voice_services.transcriber, "silero", audio.rate, voice_services.endpoint,
                        language=lambda: language, turn_model=voice_services.turn_model,
                        recognition=voice_services.recognition)

    async def listen() -> list[tuple[str, float]]:
        heard = []
        step = audio.rate // 50
        for offset in range(0, len(audio.samples), step):
            for h in await listener.feed(audio.samples[offset : offset + step]):
                if h.kind == "utterance" and h.transcript:
                    heard.append((h.transcript.text, listener.endpointer.position_s - speech_end_s(audio)))
        return heard

    return asyncio.run(listen())


@pytest.mark.parametrize("rate", [16000, 8000], ids=["widget-16k", "phone-8k"])
def test_a_caller_pausing_a_second_to_find_a_word_is_one_turn(voice_services, speak, rate):
    heard = turns(voice_services, spoken(speak, rate, HALF, 1.0, REST), "de")
    assert len(heard) == 1, heard
    assert "Deutschlandticket" in heard[0][0]


@pytest.mark.parametrize("rate", [16000, 8000], ids=["widget-16k", "phone-8k"])
def test_a_complete_question_ends_the_turn_after_the_short_silence(voice_services, speak, rate):
    [(text, waited_s)] = turns(voice_services, spoken(speak, rate, WHOLE), "de")
    assert "Deutschlandticket" in text
    end_silence_s = voice_services.endpoint.end_silence_ms / 1000
    assert waited_s < end_silence_s + 0.15, f"the turn closed {waited_s:.2f} s after the speech"


def test_without_the_turn_model_for_romanian_the_silence_alone_ends_the_turn(voice_services, speak):
    # Smart Turn does not know Romanian: the same pause, in a Romanian call, ends the turn.
    heard = turns(voice_services, spoken(speak, 16000, HALF, 1.0, REST), "ro")
    assert len(heard) == 2, heard
