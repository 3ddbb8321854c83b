"""The spoken evaluation: questions spoken by several voices, heard at 16 kHz and over the phone line, by ear."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from knowledge.evaluation import EvalQuestion
from pipeline.spoken_eval import EvalVoice, SpokenPlan, evaluate_spoken, spoken, summary

REPO = Path(__file__).resolve().parents[2]
TUESDAY_MORNING = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
KOKORO = EvalVoice("kokoro-kumo", "kokoro", "jm_kumo")
ESPEAK = EvalVoice("espeak", "espeak", "")
PIPER = EvalVoice("piper-joe", "piper", "en_US-joe-medium", ("en",))
CODES = {"de": "de", "en": "en-us"}
TICKET = EvalQuestion("deutschlandticket", "de", "Wie viel kostet das Deutschlandticket im Monat?")
VISA = EvalQuestion("blue-card", "en", "Which salary do I need for an EU Blue Card?")


def energy_above(audio, hertz: float) -> float:
    spectrum = np.abs(np.fft.rfft(audio.samples)) ** 2
    frequencies = np.fft.rfftfreq(len(audio.samples), 1 / audio.rate)
    return float(spectrum[frequencies > hertz].sum() / spectrum.sum())


def test_the_shipped_plan_speaks_with_at_least_three_voices_at_both_rates() -> None:
    plan = SpokenPlan.load(REPO / "knowledge/eval/spoken/plan.yaml")
    assert len({(v.backend, v.voice) for v in plan.voices if v.speaks("de")}) >= 3
    assert set(plan.paths) == {"widget", "phone"}
    assert {"piper"} <= {v.backend for v in plan.voices if v.speaks("en")}


def test_a_plan_with_an_unknown_path_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("voices: {espeak: {backend: espeak}}\npaths: [widget, radio]\n")
    with pytest.raises(ValueError, match="radio"):
        SpokenPlan.load(path)


def test_the_phone_path_carries_no_sound_above_four_kilohertz(voice_services) -> None:
    plan = SpokenPlan((ESPEAK,), ("widget", "phone"), 1, CODES)
    paths = spoken(plan, voice_services.synthesizer, TICKET, ESPEAK)
    widget, phone = paths["widget"], paths["phone"]
    assert widget.rate == phone.rate == 16000
    assert energy_above(widget, 4100) > 0.01
    assert energy_above(phone, 4100) < 0.001


def test_each_voice_and_path_is_scored_and_a_clear_question_is_answered_by_ear(voice_services) -> None:
    plan = SpokenPlan((KOKORO, ESPEAK, PIPER), ("widget", "phone"), 1, CODES)
    services = voice_services
    scores = evaluate_spoken(services.dialogue, services.transcriber, services.synthesizer, plan, [TICKET, VISA],
                             TUESDAY_MORNING)
    groups = {(s.language, s.voice, s.path): s for s in scores}
    assert set(groups) == {(lang, voice, path) for lang in ("de", "en") for voice in ("kokoro-kumo", "espeak")
                           for path in ("widget", "phone")} | {("en", "piper-joe", p) for p in ("widget", "phone")} | {
        ("de", "text", "text"), ("en", "text", "text")}
    assert all(s.questions == 1 for s in scores)
    ticket = groups[("de", "kokoro-kumo", "widget")]
    assert (ticket.answered_right, ticket.language_right) == (1, 1), ticket.misses
    native = groups[("en", "piper-joe", "widget")]
    assert native.answered_right == 1 and native.word_error_rate < 0.3, native.misses
    by_voice = summary(scores, "voice")
    assert by_voice["piper-joe"]["n"] == 2 and by_voice["kokoro-kumo"]["n"] == 4 and "text" not in by_voice
    assert summary(scores, "path")["text"]["n"] == 2  # the questions as written, the baseline
