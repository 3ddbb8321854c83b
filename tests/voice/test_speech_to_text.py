"""Speech to text on the real Whisper model, with speech made by the project's own voices."""

import numpy as np
import pytest

from voice.audio import Audio
from voice.vad import EndpointConfig, Endpointer, make_detector


def test_english_question_is_transcribed(voice_services, speak):
    audio = speak("How much do I need to earn for an EU Blue Card?", "en")
    transcript = voice_services.transcriber.transcribe(audio, None)
    assert transcript.language == "en"
    assert "blue card" in transcript.text.lower()


def test_german_question_is_transcribed_with_the_calls_language(voice_services, speak):
    audio = speak("Wie viel kostet das Deutschlandticket im Monat?", "de")
    transcript = voice_services.transcriber.transcribe(audio, "de")
    assert "monat" in transcript.text.lower()


def test_a_caller_who_changes_language_mid_call_is_heard_in_the_one_they_speak(voice_services, speak):
    # The call is in German (the hint); the caller goes on in English. Forced into German, Whisper would have
    # written German words for it, or translated it, and nobody could have told the caller had switched.
    audio = speak("How much do I need to earn for an EU Blue Card?", "en")
    transcript = voice_services.transcriber.transcribe(audio, "de")
    assert transcript.language == "en" and "blue card" in transcript.text.lower(), transcript.text
    assert max(transcript.language_scores, key=transcript.language_scores.get) == "en"  # for the dialogue to weigh
    german = voice_services.transcriber.transcribe(speak("Wie viel kostet das Deutschlandticket im Monat?", "de"), "de")
    assert (german.language, german.language_scores) == ("de", {})  # in the call's language: nothing to weigh


def test_questions_ending_at_once_are_transcribed_together_and_none_is_mixed_up(voice_services, speak):
    """Several calls finishing their questions at the same moment: batched (a batch pads every question to the
    longest, so words may differ slightly from a lone transcription), each still heard right, in its language."""
    from concurrent.futures import ThreadPoolExecutor

    asked = [("How much do I need to earn for an EU Blue Card?", "en", None, "blue card"),  # None: detected
             ("Wie viel kostet das Deutschlandticket im Monat?", "de", "de", "monat"),
             ("Where do I register my flat?", "en", "en", "register"),
             ("Can I bring my family to Germany?", "en", None, "family"),
             ("Wo lerne ich Deutsch?", "de", "de", "deutsch"),
             ("How do I get a tax ID?", "en", None, "tax")]
    clips = [(speak(text, language), known) for text, language, known, _ in asked]
    with ThreadPoolExecutor(len(clips)) as pool:
        heard = list(pool.map(lambda clip: voice_services.transcriber.transcribe(*clip), clips))
    assert [(t.language, word in t.text.lower()) for t, (*_, word) in zip(heard, asked, strict=True)] == [
        (language, True) for _, language, _, _ in asked], [t.text for t in heard]


def test_silence_and_noise_give_no_transcript(voice_services):
    rng = np.random.default_rng(1)
    for samples in (np.zeros(32000), rng.normal(0, 0.2, 32000), 0.3 * np.sin(np.arange(32000) * 0.04)):
        transcript = voice_services.transcriber.transcribe(Audio(samples.astype(np.float32), 16000), None)
        assert transcript.text == "", transcript


@pytest.mark.parametrize("kind", ["silero", "webrtc"])
@pytest.mark.parametrize("rate", [8000, 16000])
def test_endpointing_finds_one_turn_with_both_detectors_at_phone_and_browser_rates(speak, kind, rate):
    speech = speak("How much do I need to earn for an EU Blue Card?", "en").at_rate(rate)
    stream = np.concatenate([np.zeros(rate // 2), speech.samples, np.zeros(rate)]).astype(np.float32)
    endpointer = Endpointer(make_detector(kind, rate))
    events = [e for i in range(0, len(stream), rate // 50) for e in endpointer.feed(stream[i : i + rate // 50])]
    kinds = [e.kind for e in events if e.kind in ("started", "ended")]
    assert kinds == ["started", "ended"]
    ended = events[-1]
    assert abs(ended.audio.seconds - speech.seconds) < 1.0
    assert not ended.cut


def test_a_caller_who_never_stops_is_cut_at_the_maximum_turn_length(speak):
    speech = speak("I am talking and talking and talking without any pause at all.", "en").at_rate(16000)
    stream = np.tile(speech.samples, 12)  # far longer than the limit, no pause
    endpointer = Endpointer(make_detector("webrtc", 16000), EndpointConfig(max_turn_s=5.0, end_silence_ms=2000))
    events = [e for i in range(0, len(stream), 320) for e in endpointer.feed(stream[i : i + 320])]
    cut = [e for e in events if e.kind == "ended" and e.cut]
    assert cut and cut[0].audio.seconds <= 5.1
