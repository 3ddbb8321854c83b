"""The configuration one conversation needs: languages, the operator's facts, hours, retrieval, voice.

`hotline.settings` composes these sections with the other rooms' into one validated `Settings`; the
pipeline sees it only through `PipelineSettings`, so it never depends on the composition root.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

KNOWN_LANGUAGES = ("de", "en", "ar", "tr", "uk", "ru", "es", "fr", "pl", "ro")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_INTERVAL = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
_CLOSURE = re.compile(r"^(\d{4}-)?(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


class Section(BaseModel):
    """A validated, immutable configuration section; unknown keys are errors (a typo must not pass)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Operator(Section):
    name: str = Field(min_length=1)
    address: str = Field(min_length=1)
    phone: str = Field(min_length=1)
    email: str = Field(min_length=3)
    website: str = Field(min_length=1)
    example_values: tuple[str, ...] = ()


class HolidayCalendar(Section):
    country: str = "DE"
    subdivision: str | None = "HE"


class OpeningHoursConfig(Section):
    timezone: str = "Europe/Berlin"
    weekly: dict[str, tuple[str, ...]]
    holidays: HolidayCalendar = HolidayCalendar()
    closures: tuple[str, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin") from exc
        return value

    @field_validator("weekly")
    @classmethod
    def _weekly(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        unknown = set(value) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"unknown day(s) {sorted(unknown)}; allowed: {', '.join(WEEKDAYS)}")
        for day, intervals in value.items():
            for interval in intervals:
                match = _INTERVAL.match(interval)
                if not match or interval[:5] >= interval[6:]:
                    raise ValueError(f"{day}: {interval!r} is not an interval 'HH:MM-HH:MM' with start < end")
        return value

    @field_validator("closures")
    @classmethod
    def _closures(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not _CLOSURE.match(item):
                raise ValueError(f"{item!r} is not 'MM-DD' (every year) or 'YYYY-MM-DD' (once)")
        return value


class KnowledgeConfig(Section):
    topics_dir: Path = Path("knowledge/topics")
    eval_dir: Path = Path("knowledge/eval")
    answer_threshold: float = Field(default=0.55, ge=0.0, le=1.0)
    clarify_threshold: float = Field(default=0.35, ge=0.0, le=1.0)
    # Between this and answer_threshold the best topic is offered for the caller to confirm ("Do you mean the
    # broadcasting fee?") instead of asking them to say it in other words; 1.0 never does.
    confirm_threshold: float = Field(default=0.40, ge=0.0, le=1.0)
    max_question_chars: int = Field(default=500, ge=20, le=5000)
    # A choice question ("Do you mean A or B?") when the runner-up's ranking score is within `choice_gap` of the
    # best and its own confidence is at least `choice_floor`, unless the best is answerable and its confidence is
    # `choice_confidence_gap` above the runner-up's, or the topic classifier puts it `choice_probability_lead`
    # ahead (a garbled phone transcript shifts the word scores more than the classifier's view of the question).
    choice_gap: float = Field(default=0.004, ge=0.0, le=1.0)
    choice_floor: float = Field(default=0.3, ge=0.0, le=1.0)
    choice_confidence_gap: float = Field(default=0.2, ge=0.0, le=1.0)
    choice_probability_lead: float = Field(default=0.6, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> KnowledgeConfig:
        if self.clarify_threshold > self.answer_threshold:
            raise ValueError("clarify_threshold must not exceed answer_threshold")
        if self.confirm_threshold < self.clarify_threshold:
            raise ValueError("confirm_threshold must not be below clarify_threshold")
        return self


class VoiceEntry(Section):
    backend: str = Field(pattern=r"^(piper|kokoro|espeak|coqui)$")
    voice: str = Field(min_length=1)
    lang: str = ""
    speed: float = Field(default=1.0, gt=0.3, le=3.0)


class VoiceConfig(Section):
    vad: str = Field(default="silero", pattern=r"^(silero|webrtc)$")
    end_silence_ms: int = Field(default=500, ge=150, le=3000)
    pause_ms: int = Field(default=200, ge=80, le=1500)
    # Smart Turn v3.2 (shipped with pipecat) judges whether a pause ends the turn; "none": silence alone.
    turn_model: str = Field(default="smart-turn", pattern=r"^(smart-turn|none)$")
    turn_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)  # the model's probability that counts as finished
    unfinished_silence_ms: int = Field(default=2000, ge=300, le=6000)  # the wait when it says "not finished"
    max_turn_s: float = Field(default=20.0, ge=3.0, le=120.0)
    partial_every_s: float = Field(default=1.5, ge=0.0, le=10.0)  # live captions while speaking; 0: off
    whisper_model: Path | None = None  # a faster-whisper model folder; null: the provisioned multilingual base
    stt_threads: int = Field(default=1, ge=1, le=64)  # per worker
    stt_workers: int = Field(default=2, ge=1, le=16)  # transcriptions at once (CTranslate2 num_workers)
    stt_max_batch: int = Field(default=4, ge=1, le=32)  # questions a worker transcribes together when several wait
    stt_short_window: bool = True
    # Languages whose speech is recognised with the domain's terms as Whisper's prompt (so it spells
    # "Ausländerbehörde"); `hotline eval --part spoken --prompts` measures each choice.
    stt_prompt_languages: list[str] = ["de"]
    # Transcriptions handed to the recogniser at once, most urgent first (phone, widget, captions); 0: as many
    # as its workers batch (stt_workers x stt_max_batch), so that batches still form under load.
    stt_in_flight: int = Field(default=0, ge=0, le=256)
    stt_queue_phone: int = Field(default=32, ge=1, le=1000)  # phone turns that may wait; more fail with the apology
    stt_queue_widget: int = Field(default=32, ge=1, le=1000)  # widget turns that may wait
    stt_queue_captions: int = Field(default=4, ge=0, le=1000)  # live captions that may wait; more are skipped
    voices: dict[str, VoiceEntry] = {}
    # Spoken when a language's configured voice fails (the apology, then the way out); a language not listed
    # falls back to espeak-ng's voice of the same code, which needs no model file that could break.
    fallback_voices: dict[str, VoiceEntry] = {}

    @field_validator("stt_prompt_languages")
    @classmethod
    def _prompt_languages_known(cls, value: list[str]) -> list[str]:
        unknown = [lang for lang in value if lang not in KNOWN_LANGUAGES]
        if unknown:
            raise ValueError(f"unknown languages {unknown}; known: {', '.join(KNOWN_LANGUAGES)}")
        return value

    @model_validator(mode="after")
    def _silences_ordered(self) -> VoiceConfig:
        if self.unfinished_silence_ms < self.end_silence_ms:
            raise ValueError("unfinished_silence_ms must not be shorter than end_silence_ms")
        return self

class PipelineSettings(Protocol):
    """What a conversation reads of the composed settings."""

    @property
    def languages(self) -> tuple[str, ...]: ...
    @property
    def default_language(self) -> str: ...
    @property
    def operator(self) -> Operator: ...
    @property
    def opening_hours(self) -> OpeningHoursConfig: ...
    @property
    def knowledge(self) -> KnowledgeConfig: ...
    @property
    def voice(self) -> VoiceConfig: ...
    @property
    def root(self) -> Path: ...
    @property
    def cache_dir(self) -> Path: ...

    def path(self, relative: Path) -> Path: ...
