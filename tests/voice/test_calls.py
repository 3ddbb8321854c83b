"""Spoken calls end to end through the voice agent: `hotline call`, turns, noise, barge-in, faults."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.replay import replay
from pipeline.voice_agent import VoiceAgent
from tests.conftest import berlin
from voice.audio import Audio

ROOT = Path(__file__).resolve().parents[2]
TUESDAY_10 = berlin(2026, 12, 1, 10, 0)


def hotline(*args):
    return subprocess.run([sys.executable, "-m", "hotline.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env=os.environ, timeout=600, check=False)


@pytest.mark.parametrize(
    ("language", "question", "topic", "fact"),
    [("en", "How much do I need to earn for an EU Blue Card?", "blue-card", "50,700"),
     ("de", "Wie viel kostet das Deutschlandticket im Monat?", "deutschlandticket", "63 Euro")],
)
def test_hotline_call_answers_a_spoken_question_and_writes_answer_audio(tmp_path, speak, language, question, topic,
                                                                         fact, knowledge):
    wav = tmp_path / "question.wav"
    speak(question, language).write_wav(wav)
    out = tmp_path / "answer.wav"
    done = hotline("call", str(wav), "--json", "--out", str(out), "--at", "2026-12-01T10:00", "--no-record")
    assert done.returncode == 0, done.stderr
    turn = json.loads(done.stdout.splitlines()[0])
    assert (turn["language"], turn["action"], turn["topic"]) == (language, "answer", topic)
    assert fact in turn["answer"]
    assert turn["transcript"]
    assert {"stt", "retrieval", "tts_first_audio", "voice_to_voice"} <= turn["timings_ms"].keys()
    assert out.stat().st_size > 10_000 and turn["audio"] == str(out)


def test_an_unreadable_file_gets_a_clear_error(tmp_path):
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"\x00\xffnot audio" * 50)
    done = hotline("call", str(bad))
    assert done.returncode == 2
    assert "broken.mp3" in done.stderr and "not a readable audio file" in done.stderr


def test_two_questions_separated_by_a_pause_are_two_turns(voice_services, speak):
    first = speak("How much is the Deutschlandticket?", "en")
    second = speak("How do I register my address?", "en")
    audio = Audio.concat([first, Audio.silence(2.5, first.rate), second], first.rate)
    _, turns = asyncio.run(replay(voice_services, audio, at=TUESDAY_10, realtime=False))
    assert [t.reply.topic for t in turns] == ["deutschlandticket", "address-registration"]


def noise_clips(count: int, rate: int = 16000) -> list[np.ndarray]:
    """Silence, hiss, hum, music-like chords, breathing-like bursts and clicks, at several levels."""
    rng = np.random.default_rng(7)
    t = np.arange(int(2.5 * rate)) / rate
    clips = []
    for i in range(count):
        level = [0.0005, 0.01, 0.05, 0.2][i % 4]
        kind = (i // 4) % 6
        if kind == 0:
            clip = np.zeros_like(t) + rng.normal(0, level / 10, t.shape)
        elif kind == 1:
            clip = rng.normal(0, level, t.shape)
        elif kind == 2:
            clip = level * 3 * np.sin(2 * np.pi * (50 + 10 * (i % 2)) * t)
        elif kind == 3:
            freqs = rng.choice([261.6, 329.6, 392.0, 440.0, 523.3], 3)
            clip = level * sum(np.sin(2 * np.pi * f * t) for f in freqs)
        elif kind == 4:
            envelope = (np.sin(2 * np.pi * 0.4 * t) > 0.3).astype(float)
            clip = np.convolve(rng.normal(0, level, t.shape), np.ones(40) / 40, "same") * envelope * 4
        else:
            clip = np.zeros_like(t)
            clip[rng.integers(0, len(t), 12)] = level * 10
        clips.append(np.clip(clip, -1, 1).astype(np.float32))
    return clips


def test_one_hundred_clips_of_noise_and_silence_produce_no_answer(voice_services):
    async def run_all() -> list[str]:
        heard = []
        for number, clip in enumerate(noise_clips(100)):
            agent = VoiceAgent(voice_services, 16000, "cli", f"noise-{number}", clock=lambda: TUESDAY_10)
            events = await agent.feed(clip) + await agent.feed(np.zeros(16000, np.float32))
            events += await agent.finish_input()
            heard += [f"clip {number}: {e.text}" for e in events if e.kind in ("final", "reply")]
        return heard

    assert asyncio.run(run_all()) == []


def test_speaking_over_the_bot_interrupts_it(voice_services, speak):
    async def scenario() -> list[str]:
        events: list[str] = []

        async def collect(event):
            events.append(event.kind)

        agent = VoiceAgent(voice_services, 16000, "cli", "barge", clock=lambda: TUESDAY_10, on_event=collect)
        await agent.start(greeting="Willkommen bei der Hotline des Welcomecenters Mittelhessen.")
        assert agent.bot_speaking()
        question = speak("How much is the Deutschlandticket?", "en").at_rate(16000).samples
        for offset in range(0, len(question), 320):
            await agent.feed(question[offset : offset + 320])
        return events

    events = asyncio.run(scenario())
    assert "barge_in" in events


def test_a_dead_database_mid_call_does_not_end_the_call(voice_services, tmp_path, speak):
    from sqlalchemy import text

    from review.store import TranscriptStore

    store = TranscriptStore(f"sqlite:///{tmp_path / 'calls.db'}")
    with store.engine.begin() as connection:  # the database loses its turns table mid-call
        connection.execute(text("DROP TABLE turns"))
    _, turns = asyncio.run(replay(voice_services, speak("How much is the Deutschlandticket?", "en"),
                                  at=TUESDAY_10, sink=store, realtime=False))
    assert turns and turns[0].reply.topic == "deutschlandticket" and turns[0].audio


async def test_a_callback_left_outside_opening_hours_keeps_the_question_the_caller_came_with(voice_services,
                                                                                            tmp_path):
    from review.store import TranscriptStore

    store = TranscriptStore(f"sqlite:///{tmp_path / 'calls.db'}", redact_contacts=False)
    sunday = berlin(2026, 12, 6, 10, 0)
    agent = VoiceAgent(voice_services, 8000, "phone", "closed-callback", sink=store, caller_number="+4915100000009",
                       language="en", clock=lambda: sunday)
    await agent.start()
    await agent.text("Where can I get my foreign degree recognised?")
    [closed] = [e.reply for e in await agent.text("I want to speak to a person") if e.reply]
    assert closed.action == "closed"  # with the next opening time and an offer to call back
    await agent.text("Yes please")
    await agent.close("hung_up")
    [callback] = store.get_call("closed-callback").callbacks
    assert callback.question == "Where can I get my foreign degree recognised?"
    assert callback.number == "+4915100000009"
