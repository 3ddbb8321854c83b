"""`make bench`: speech-to-text and text-to-speech speed, round-trip intelligibility, voice-to-voice latency,
concurrent calls and calls under abuse on this machine. Prints a table and writes bench/results.json.

Test speech is made by the project's own voices; nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

from bench.abuse import bench_abuse
from bench.phone import bench_phone_calls
from bench.stats import percentile
from hotline.settings import load_settings
from pipeline.replay import replay
from pipeline.services import VoiceServices
from voice.audio import Audio
from voice.tts import VoiceChoice, sentences
from voice.wer import word_error_rate

RESULTS = Path(__file__).resolve().parent / "results.json"
KOKORO_LANG = {"de": "de", "en": "en-us", "ar": "ar", "tr": "tr", "uk": "uk", "ru": "ru", "es": "es",
               "fr": "fr-fr", "pl": "pl", "ro": "ro"}
ESPEAK_VOICE = {"de": "de", "en": "en-us", "ar": "ar", "tr": "tr", "uk": "uk", "ru": "ru", "es": "es",
                "fr": "fr-fr", "pl": "pl", "ro": "ro"}
ANSWERS_PER_LANGUAGE = 2
QUICK = "--quick" in sys.argv  # one answer and one question per language: a 10-minute run
PHONE_ONLY = "--phone-only" in sys.argv  # only the concurrent phone calls (the rest kept from results.json)
ABUSE_ONLY = "--abuse-only" in sys.argv  # only the calls under abuse (the rest kept from results.json)


def candidate_voices(language: str) -> dict[str, VoiceChoice]:
    voices = {"kokoro": VoiceChoice("kokoro", "jm_kumo", KOKORO_LANG[language]),
              "espeak": VoiceChoice("espeak", ESPEAK_VOICE[language])}
    if language == "en":
        voices["piper"] = VoiceChoice("piper", "en_US-joe-medium")
    return voices


def sample_answers(services: VoiceServices, language: str) -> list[str]:
    topics = sorted(services.dialogue.knowledge.topics.values(), key=lambda t: t.id)
    chosen = topics[:: max(1, len(topics) // ANSWERS_PER_LANGUAGE)][:ANSWERS_PER_LANGUAGE]
    return [services.dialogue.render(t.answers[language].answer, language) for t in chosen]


def bench_tts_and_roundtrip(services: VoiceServices) -> tuple[dict, dict, dict]:
    tts: dict[str, dict[str, dict[str, float]]] = {}
    wer: dict[str, dict[str, float]] = {}
    stt_rtf: dict[str, float] = {}
    for language in services.settings.languages:
        answers = sample_answers(services, language)[: 1 if QUICK else None]
        stt_times, stt_audio = 0.0, 0.0
        for backend, choice in candidate_voices(language).items():
            synth_s, audio_s, first_ms, errors = 0.0, 0.0, [], []
            for text in answers:
                started = time.perf_counter()
                first = services.synthesizer.speak(sentences(text)[0], language, choice)
                first_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                audio = services.synthesizer.speak(text, language, choice)
                synth_s += time.perf_counter() - started
                audio_s += audio.seconds
                heard = services.transcriber.transcribe(audio, language)
                stt_times += heard.elapsed_ms / 1000
                stt_audio += audio.seconds
                errors.append(word_error_rate(text, heard.text))
                del first
            tts.setdefault(backend, {})[language] = {
                "rtf": round(synth_s / audio_s, 4), "first_audio_ms": round(statistics.median(first_ms), 1)}
            wer.setdefault(language, {})[f"{backend}:{choice.voice}"] = round(statistics.mean(errors), 3)
            print(f"  {language} {backend:7s} tts rtf {synth_s / audio_s:5.2f}  first audio "
                  f"{statistics.median(first_ms):6.0f} ms  round-trip WER {statistics.mean(errors):.2f}", flush=True)
        stt_rtf[language] = round(stt_times / stt_audio, 3)
    return tts, wer, stt_rtf


def eval_questions(services: VoiceServices) -> list[tuple[str, str]]:
    from knowledge.evaluation import load_eval_set

    settings = services.settings
    rows = load_eval_set(settings.path(settings.knowledge.eval_dir), set(services.dialogue.knowledge.topics))
    per_language: dict[str, list[str]] = {}
    for row in rows:
        per_language.setdefault(row.language, []).append(row.text)
    count = 1 if QUICK else 3
    return [(text, lang) for lang in settings.languages for text in per_language.get(lang, [])[:count]]


async def one_call(services: VoiceServices, audio: Audio, language: str, at: datetime) -> list[float]:
    _, turns = await replay(services, audio, language=language, at=at, realtime=True, channel="bench")
    return [t.reply.timings_ms["voice_to_voice"] for t in turns if t.reply and "voice_to_voice" in t.reply.timings_ms]


def bench_turn_model(services: VoiceServices, spoken: list[tuple[Audio, str]]) -> dict:
    """Smart Turn's time per verdict (one thread), and how often it calls a whole test question unfinished (each
    such turn waits `unfinished_silence_ms` instead of `end_silence_ms`)."""
    if services.turn_model is None:
        return {"model": None}
    times, unfinished = [], 0
    for audio, _ in spoken:
        tail = Audio.concat([audio, Audio.silence(0.2, audio.rate)], 16000)
        started = time.perf_counter()
        unfinished += not services.turn_model.finished(tail)
        times.append((time.perf_counter() - started) * 1000)
    return {"model": "smart-turn-v3.2", "verdict_ms_p50": round(percentile(times, 50)),
            "verdict_ms_p95": round(percentile(times, 95)), "whole_questions_judged_unfinished": unfinished,
            "n": len(spoken)}


def bench_latency(services: VoiceServices, questions: list[tuple[Audio, str]], at: datetime) -> dict:
    latencies: list[float] = []
    for audio, language in questions:
        latencies += asyncio.run(one_call(services, audio, language, at))
    return {"p50": round(percentile(latencies, 50)), "p95": round(percentile(latencies, 95)), "n": len(latencies)}


def main() -> int:
    settings = load_settings()
    print("loading models ...", flush=True)
    services = VoiceServices.from_settings(settings)
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Berlin
    partial = PHONE_ONLY or ABUSE_ONLY
    results = json.loads(RESULTS.read_text()) if partial and RESULTS.exists() else {}
    if not partial:
        print("text to speech and round-trip intelligibility (each voice, answers transcribed back):", flush=True)
        results["tts"], results["roundtrip_wer"], results["stt_rtf"] = bench_tts_and_roundtrip(services)
    questions = eval_questions(services)
    spoken = [(services.synthesizer.speak(text, lang), lang) for text, lang in questions]
    print(f"rendering answer audio for {len(spoken)} test questions (not timed) ...", flush=True)
    for audio, lang in spoken:  # answers are pre-rendered in production, so they are here too
        asyncio.run(replay(services, audio, language=lang, at=at, realtime=False, channel="bench"))
    if not partial:
        print("turn model (Smart Turn v3.2) on the whole test questions:", flush=True)
        results["turn_model"] = bench_turn_model(services, spoken)
        print("voice-to-voice latency (end of caller speech -> first answer audio), real-time feed:", flush=True)
        results["voice_to_voice_ms"] = bench_latency(services, spoken, at)
    if not ABUSE_ONLY:
        print("concurrent phone calls (simulated Twilio callers on loopback, a `hotline serve` process):", flush=True)
        results["concurrent_calls"] = bench_phone_calls(spoken, list(settings.languages), (1, 2, 4, 8, 12))
    if not PHONE_ONLY:
        print("abuse: phone calls while one address holds silent widget sockets and floods the login:", flush=True)
        results["abuse"] = bench_abuse(spoken, list(settings.languages))
    results.update({
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "cpu": _cpu_model(), "python": platform.python_version()},
        "settings": {"end_silence_ms": settings.voice.end_silence_ms, "pause_ms": settings.voice.pause_ms,
                     "turn_model": settings.voice.turn_model,
                     "unfinished_silence_ms": settings.voice.unfinished_silence_ms,
                     "stt_short_window": settings.voice.stt_short_window, "vad": settings.voice.vad,
                     "stt_workers": settings.voice.stt_workers, "stt_threads": settings.voice.stt_threads},
    })
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print_table(results)
    return 0


def print_table(results: dict) -> None:
    print("\n== results ==")
    if v2v := results.get("voice_to_voice_ms"):
        print(f"voice-to-voice: p50 {v2v['p50']} ms, p95 {v2v['p95']} ms over {v2v['n']} questions "
              f"(target p50 <= 800, p95 <= 1500)")
    if (turn := results.get("turn_model")) and turn.get("model"):
        print(f"turn model: {turn['verdict_ms_p50']} ms p50 / {turn['verdict_ms_p95']} ms p95 per verdict; "
              f"{turn['whole_questions_judged_unfinished']} of {turn['n']} whole questions judged unfinished")
    if results.get("stt_rtf"):
        print(f"{'lang':<6}{'stt rtf':>9}  tts rtf / first audio ms per backend   round-trip WER per voice")
        for language, rtf in results["stt_rtf"].items():
            tts = "  ".join(f"{backend}={per[language]['rtf']:.2f}/{per[language]['first_audio_ms']:.0f}"
                            for backend, per in results["tts"].items() if language in per)
            wers = "  ".join(f"{voice}={value:.2f}" for voice, value in results["roundtrip_wer"][language].items())
            print(f"{language:<6}{rtf:>9.3f}  {tts}   {wers}")
    if calls := results.get("concurrent_calls"):
        for n, figures in calls.items():
            if isinstance(figures, dict):
                print(f"{n:>3} phone calls at once: voice-to-voice p50 {figures['p50']} ms, p95 {figures['p95']} ms")
        print(f"largest number of concurrent calls with p95 <= 2 s: {calls['max_n_p95_under_2s']} (target >= 8)")
    if abuse := results.get("abuse"):
        print(f"{abuse['phone_calls']:>3} phone calls under abuse ({abuse['silent_sockets']} silent widget sockets and a "
              f"login flood from one address): voice-to-voice p50 {abuse['p50']} ms, p95 {abuse['p95']} ms")
    print(f"written to {RESULTS}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
