"""The answer audio cache as one folder shared by several instances."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from voice.answer_audio import AnswerAudioCache
from voice.audio import Audio
from voice.tts import Synthesizer, VoiceChoice


def test_two_instances_storing_the_same_answer_at_once_both_leave_a_complete_file(tmp_path):
    voices = {"de": VoiceChoice("espeak", "de")}
    caches = [AnswerAudioCache(tmp_path, Synthesizer(voices, None)) for _ in range(2)]
    audio = Audio((np.sin(np.arange(48_000) / 9) * 0.3).astype(np.float32), 24_000)

    def store(n: int) -> None:
        caches[n % 2].store("Guten Tag.", "de", [audio])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(store, range(64)))  # raises if a writer lost its file to another
    for cache in caches:
        for rate in (8000, 16000):
            cached = cache.cached("Guten Tag.", "de", rate)
            assert cached is not None and abs(cached.seconds - 2.0) < 0.01
    assert not list(tmp_path.rglob("*.partial*"))


def test_a_text_rendered_at_a_faster_pace_is_shorter_and_kept_apart_from_the_usual_one(tmp_path):
    cache = AnswerAudioCache(tmp_path, Synthesizer({"de": VoiceChoice("espeak", "de")}, None))
    text = "Willkommen beim Welcomecenter Mittelhessen. Ihre Frage bitte."
    usual = cache.get_or_render(text, "de", 8000)
    faster = cache.get_or_render(text, "de", 8000, pace=1.3)
    assert faster.seconds < usual.seconds * 0.9
    assert cache.cached(text, "de", 8000).seconds == usual.seconds  # the usual pace is still there, unchanged
    assert cache.cached(text, "de", 8000, pace=1.3).seconds == faster.seconds
    assert cache.cached(text, "de", 8000, pace=1.1) is None
