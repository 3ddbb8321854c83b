"""How the hotline understands spoken questions: the evaluation questions spoken by several voices and heard by
Whisper at 16 kHz (the widget) and through the 8 kHz phone line, each as a call's first utterance.

    hotline eval --part spoken [--misses]

The language is heard by ear (no key pressed; `keyed` measures a caller who chose it), so a question counts as
right only when the recogniser, the language identification and the dialogue all did their part. Each question
is also asked as written (path "text"): what speech costs is the difference. The plan (voices, paths, how many
questions) is `knowledge/eval/spoken/plan.yaml`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from knowledge.evaluation import EvalQuestion
from pipeline.dialogue import Conversation, Dialogue
from pipeline.question_eval import FirstUtteranceRates, judged
from voice.audio import STT_RATE, Audio, over_phone_line
from voice.stt import Transcriber
from voice.tts import Synthesizer, VoiceChoice
from voice.wer import word_error_rate

PATHS = ("widget", "phone")
TEXT = "text"  # the question as written, no voice: the baseline speech is measured against


@dataclass(frozen=True)
class EvalVoice:
    name: str
    backend: str
    voice: str  # empty: the language's phonemiser code (espeak's voices are named by language)
    languages: tuple[str, ...] = ()  # empty: every language

    def choice(self, language: str, codes: dict[str, str]) -> VoiceChoice:
        code = codes.get(language, language)
        return VoiceChoice(self.backend, self.voice or code, code if self.backend in ("kokoro", "espeak") else "")

    def speaks(self, language: str) -> bool:
        return not self.languages or language in self.languages


@dataclass(frozen=True)
class SpokenPlan:
    voices: tuple[EvalVoice, ...]
    paths: tuple[str, ...]
    questions_per_language: int
    codes: dict[str, str]  # the phonemiser's language code per language
    lead_s: float = 0.3
    tail_s: float = 0.6

    @classmethod
    def load(cls, path: Path) -> SpokenPlan:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        voices = tuple(EvalVoice(str(name), str(v["backend"]), str(v.get("voice", "")),
                                 tuple(str(lang) for lang in v.get("languages", ())))
                       for name, v in (data.get("voices") or {}).items())
        paths = tuple(str(p) for p in data.get("paths", PATHS))
        unknown = [p for p in paths if p not in PATHS]
        if not voices or unknown:
            raise ValueError(f"{path}: needs voices, and paths among {', '.join(PATHS)} (unknown: {unknown})")
        return cls(voices, paths, int(data.get("questions_per_language", 12)),
                   {str(k): str(v) for k, v in (data.get("lang") or {}).items()},
                   float(data.get("lead_s", 0.3)), float(data.get("tail_s", 0.6)))

    def sample(self, questions: list[EvalQuestion], languages: tuple[str, ...]) -> list[EvalQuestion]:
        """Every n-th question of each language, so the sample spreads over the topics as the file does."""
        chosen = []
        for language in languages:
            mine = [q for q in questions if q.language == language]
            count = self.questions_per_language or len(mine)
            step = max(1, len(mine) // max(count, 1))
            chosen += mine[::step][:count]
        return chosen


@dataclass(frozen=True)
class Heard:
    question: EvalQuestion
    voice: str
    path: str
    text: str  # what Whisper heard
    language: str  # the language the dialogue answered in
    outcome: str  # right (answered with the topic at once), chosen (a choice offering it), wrong, none
    what: str  # what the dialogue did, for the misses


@dataclass(frozen=True)
class SpokenScores(FirstUtteranceRates):
    language: str
    voice: str
    path: str
    questions: int
    answered_right: int
    chosen_right: int
    language_right: int
    word_error_rate: float  # mean, against the question as written
    misses: tuple[tuple[str, str, str, str], ...]  # (question, heard, expected topic, what happened)


def spoken(plan: SpokenPlan, synthesizer: Synthesizer, question: EvalQuestion, voice: EvalVoice) -> dict[str, Audio]:
    """The question as the recogniser receives it on each of the plan's paths, with the silence an endpointed
    turn carries."""
    said = synthesizer.speak(question.text, question.language, voice.choice(question.language, plan.codes))
    rate = said.rate
    audio = Audio.concat([Audio.silence(plan.lead_s, rate), said, Audio.silence(plan.tail_s, rate)], rate)
    on = {"widget": lambda: audio.at_rate(STT_RATE), "phone": lambda: over_phone_line(audio).at_rate(STT_RATE)}
    return {path: on[path]() for path in plan.paths}


def hear(dialogue: Dialogue, transcriber: Transcriber, audio: Audio | None, question: EvalQuestion, at: datetime,
         voice: str, path: str, keyed: bool = False) -> Heard:
    """What the dialogue makes of the question as heard in `audio` (as written, when there is no audio)."""
    language = question.language if keyed else None
    conversation = Conversation.in_language(language) if language else Conversation()
    if audio is None:
        text, scores = question.text, None
    else:
        transcript = transcriber.transcribe(audio, language=language)
        text, scores = transcript.text, transcript.language_scores or None
    reply = dialogue.respond(conversation, text, at, scores)
    outcome, what = judged(reply, question.topic)
    return Heard(question, voice, path, text, reply.language, outcome, what)


def evaluate_spoken(dialogue: Dialogue, transcriber: Transcriber, synthesizer: Synthesizer, plan: SpokenPlan,
                    questions: list[EvalQuestion], at: datetime, keyed: bool = False,
                    progress: Callable[[Heard], None] | None = None) -> list[SpokenScores]:
    heard = [hear(dialogue, transcriber, None, q, at, TEXT, TEXT, keyed) for q in questions]
    for question, voice in _pairs(plan, questions):
        for path, audio in spoken(plan, synthesizer, question, voice).items():
            result = hear(dialogue, transcriber, audio, question, at, voice.name, path, keyed)
            heard.append(result)
            if progress:
                progress(result)
    return tally(heard)


def _pairs(plan: SpokenPlan, questions: list[EvalQuestion]) -> Iterator[tuple[EvalQuestion, EvalVoice]]:
    for question in questions:
        for voice in plan.voices:
            if voice.speaks(question.language):
                yield question, voice


def tally(heard: list[Heard]) -> list[SpokenScores]:
    groups: dict[tuple[str, str, str], list[Heard]] = {}
    for h in heard:
        groups.setdefault((h.question.language, h.voice, h.path), []).append(h)
    scores = []
    for (language, voice, path), rows in sorted(groups.items()):
        scores.append(SpokenScores(
            language, voice, path, len(rows), sum(h.outcome == "right" for h in rows),
            sum(h.outcome == "chosen" for h in rows), sum(h.language == language for h in rows),
            sum(word_error_rate(h.question.text, h.text) for h in rows) / len(rows),
            tuple((h.question.text, h.text, h.question.topic, h.what) for h in rows
                  if h.outcome not in ("right", "chosen")),
        ))
    return scores


def summary(scores: list[SpokenScores], by: str) -> dict[str, dict[str, float]]:
    """Right at once, with a choice, and language, pooled over everything but `by` (language, voice or path).
    The questions as written count only by path, beside the spoken ones."""
    pooled: dict[str, list[SpokenScores]] = {}
    for s in scores:
        if s.path != TEXT or by == "path":
            pooled.setdefault(getattr(s, by), []).append(s)
    out = {}
    for key, rows in pooled.items():
        n = sum(s.questions for s in rows)
        out[key] = {"n": n, "at_once": sum(s.answered_right for s in rows) / n,
                    "with_choice": sum(s.answered_right + s.chosen_right for s in rows) / n,
                    "language": sum(s.language_right for s in rows) / n,
                    "wer": sum(s.word_error_rate * s.questions for s in rows) / n}
    return out
