"""What every call shares, loaded once per process: models, voices, answer audio, the dialogue."""

from __future__ import annotations

from collections.abc import Sequence

from knowledge.loanwords import domain_terms
from knowledge.vocabulary import Lexicon
from pipeline.config import PipelineSettings
from pipeline.dialogue import Dialogue, load_dialogue
from pipeline.observers import CallObserver, NoObserver
from pipeline.recognition import RecognitionLimits, RecognitionQueue
from voice.answer_audio import AnswerAudioCache
from voice.provision import locate
from voice.stt import SttConfig, Transcriber
from voice.tts import Synthesizer, VoiceChoice
from voice.turn import SmartTurn
from voice.vad import EndpointConfig

FIXED_PHRASES = ("transfer", "goodbye", "thanks", "clarify_empty", "clarify_low", "no_answer", "emergency",
                 "nothing_to_repeat", "no_details", "language_switched", "apology_fault", "ask_more",
                 "callback_offer", "callback_saved", "consent_notice", "consent_objected",
                 "sms_offer", "sms_sending", "sms_failed")


def phrase_texts(dialogue: Dialogue, languages: Sequence[str]) -> list[tuple[str, str]]:
    """The dialogue's fixed sentences (transfer, goodbye, apology...) in each language, as they will be spoken."""
    return [(dialogue.phrases.say(lang, key), lang) for lang in languages for key in FIXED_PHRASES]


def answer_texts(dialogue: Dialogue, languages: Sequence[str]) -> list[tuple[str, str]]:
    """Every fixed sentence and curated answer as it will be spoken, with its language: what the answer audio
    cache should hold. The fixed sentences come first: any call may need them, and on a fresh install the
    background rendering has them ready within minutes instead of after the answers' hours."""
    return phrase_texts(dialogue, languages) + [
        (dialogue.render(localized.answer, lang), lang)
        for topic in dialogue.knowledge.topics.values() for lang, localized in topic.answers.items()
        if lang in languages]


def stt_prompts(dialogue: Dialogue, languages: Sequence[str]) -> dict[str, str]:
    """Whisper's prompt per language: the domain's German terms as that language's texts use them."""
    topics = list(dialogue.knowledge.topics.values())
    prompts = {lang: ", ".join(domain_terms(topics, lang)) for lang in languages}
    return {lang: terms + "." for lang, terms in prompts.items() if terms}


def voice_table(settings: PipelineSettings) -> dict[str, VoiceChoice]:
    return {lang: VoiceChoice(v.backend, v.voice, v.lang, v.speed) for lang, v in settings.voice.voices.items()}


def fallback_table(settings: PipelineSettings) -> dict[str, VoiceChoice]:
    """The voice per language for when the configured one fails: espeak-ng unless the config names another."""
    table = {lang: VoiceChoice("espeak", lang) for lang in settings.languages}
    table.update({lang: VoiceChoice(v.backend, v.voice, v.lang, v.speed)
                  for lang, v in settings.voice.fallback_voices.items()})
    return table


def recognition_limits(settings: PipelineSettings) -> RecognitionLimits:
    voice = settings.voice
    return RecognitionLimits(workers=voice.stt_in_flight or voice.stt_workers * voice.stt_max_batch,
                             phone_queue=voice.stt_queue_phone, widget_queue=voice.stt_queue_widget,
                             caption_queue=voice.stt_queue_captions)


def answer_audio_cache(settings: PipelineSettings, synthesizer: Synthesizer | None = None) -> AnswerAudioCache:
    """The answer audio cache with the configured voices; loads Piper and Kokoro only if the table uses them."""
    if synthesizer is None:
        voices = voice_table(settings)
        bundled = any(choice.backend in ("piper", "kokoro") for choice in voices.values())
        synthesizer = Synthesizer(voices, locate(settings.cache_dir) if bundled else None)
    return AnswerAudioCache(settings.cache_dir / "answer-audio", synthesizer)


class VoiceServices:
    """The shared, loaded parts of the hotline that each call's `VoiceAgent` uses."""

    def __init__(self, settings: PipelineSettings, dialogue: Dialogue, transcriber: Transcriber,
                 synthesizer: Synthesizer, answers: AnswerAudioCache, fallback: Synthesizer | None = None) -> None:
        self.settings = settings
        self.dialogue = dialogue
        self.transcriber = transcriber
        self.recognition = RecognitionQueue(recognition_limits(settings))
        self.synthesizer = synthesizer
        self.answers = answers
        # Told of every call and turn (the metrics); the composition root sets it.
        self.observer: CallObserver = NoObserver()
        bundled = any(c.backend in ("piper", "kokoro") for c in fallback_table(settings).values())
        self.fallback = fallback or Synthesizer(fallback_table(settings),
                                                locate(settings.cache_dir) if bundled else None)
        voice = settings.voice
        self.endpoint = EndpointConfig(pause_ms=voice.pause_ms, end_silence_ms=voice.end_silence_ms,
                                       unfinished_silence_ms=voice.unfinished_silence_ms, max_turn_s=voice.max_turn_s)
        self.turn_model = SmartTurn(voice.turn_threshold) if voice.turn_model == "smart-turn" else None

    @classmethod
    def from_settings(cls, settings: PipelineSettings, dialogue: Dialogue | None = None) -> VoiceServices:
        models = locate(settings.cache_dir)
        whisper = settings.path(settings.voice.whisper_model) if settings.voice.whisper_model else models.whisper
        dialogue = dialogue or load_dialogue(settings)
        transcriber = Transcriber(
            whisper, SttConfig(cpu_threads=settings.voice.stt_threads, workers=settings.voice.stt_workers,
                               max_batch=settings.voice.stt_max_batch, short_window=settings.voice.stt_short_window),
            languages=settings.languages, known_share=Lexicon.of(dialogue.knowledge.topics.values()).share,
            prompts=stt_prompts(dialogue, settings.voice.stt_prompt_languages),
        )
        synthesizer = Synthesizer(voice_table(settings), models)
        return cls(settings, dialogue, transcriber, synthesizer,
                   answer_audio_cache(settings, synthesizer))

    @property
    def recognition_waiting(self) -> int:
        """Utterances waiting for speech recognition: in the priority queues and inside the recogniser."""
        return self.recognition.depth + self.transcriber.waiting

    def answer_texts(self) -> list[tuple[str, str]]:
        return answer_texts(self.dialogue, self.settings.languages)
