"""Settings: `config/hotline.yaml`, overridden by environment variables, validated once at start-up.

This is the only module that reads the environment. Everything else receives a `Settings` object.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from telephony.widget.config import WidgetConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "hotline.yaml"
ENV_PREFIX = "HOTLINE__"
# Well-known variable names an operator expects to work, mapped to the key they set.
ENV_ALIASES = {
    "DATABASE_URL": "storage.database_url",
    "TWILIO_ACCOUNT_SID": "twilio.account_sid",
    "TWILIO_AUTH_TOKEN": "twilio.auth_token",
    "TWILIO_API_BASE_URL": "twilio.api_base_url",
    "HOTLINE_PUBLIC_URL": "server.public_url",
}
KNOWN_LANGUAGES = ("de", "en", "ar", "tr", "uk", "ru", "es", "fr", "pl", "ro")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_INTERVAL = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
_CLOSURE = re.compile(r"^(\d{4}-)?(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


class ConfigError(Exception):
    """An invalid configuration: the message names the key and what is allowed."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Operator(_Frozen):
    name: str = Field(min_length=1)
    address: str = Field(min_length=1)
    phone: str = Field(min_length=1)
    email: str = Field(min_length=3)
    website: str = Field(min_length=1)
    example_values: tuple[str, ...] = ()


class HolidayCalendar(_Frozen):
    country: str = "DE"
    subdivision: str | None = "HE"


class OpeningHoursConfig(_Frozen):
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


class Transfer(_Frozen):
    staff_number: str = Field(pattern=r"^\+[1-9]\d{6,14}$")
    caller_id: str | None = None
    ring_timeout_s: int = Field(default=25, ge=5, le=120)


class KnowledgeConfig(_Frozen):
    topics_dir: Path = Path("knowledge/topics")
    eval_dir: Path = Path("knowledge/eval")
    answer_threshold: float = Field(default=0.55, ge=0.0, le=1.0)
    clarify_threshold: float = Field(default=0.35, ge=0.0, le=1.0)
    max_question_chars: int = Field(default=500, ge=20, le=5000)

    @model_validator(mode="after")
    def _ordered(self) -> KnowledgeConfig:
        if self.clarify_threshold > self.answer_threshold:
            raise ValueError("clarify_threshold must not exceed answer_threshold")
        return self


class Paths(_Frozen):
    cache: Path = Path(".cache")
    data: Path = Path("data")


class Storage(_Frozen):
    database_url: str | None = None
    retention_days: int = Field(default=90, ge=1, le=3650)
    redact_contacts: bool = True


class Server(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = Field(default="http://127.0.0.1:8000", pattern=r"^https?://[^\s/]+(/.*)?$")


class Twilio(_Frozen):
    account_sid: str = "AC00000000000000000000000000000000"
    auth_token: str = "change-me"
    api_base_url: str = Field(default="https://api.twilio.com", pattern=r"^https?://")


class VoiceEntry(_Frozen):
    backend: str = Field(pattern=r"^(piper|kokoro|espeak|coqui)$")
    voice: str = Field(min_length=1)
    lang: str = ""
    speed: float = Field(default=1.0, gt=0.3, le=3.0)


class Voice(_Frozen):
    vad: str = Field(default="silero", pattern=r"^(silero|webrtc)$")
    end_silence_ms: int = Field(default=500, ge=150, le=3000)
    pause_ms: int = Field(default=200, ge=80, le=1500)
    max_turn_s: float = Field(default=20.0, ge=3.0, le=120.0)
    partial_every_s: float = Field(default=1.5, ge=0.0, le=10.0)  # live captions while speaking; 0: off
    whisper_model: Path | None = None  # a faster-whisper model folder; null: the provisioned multilingual base
    stt_threads: int = Field(default=1, ge=1, le=64)  # per worker
    stt_workers: int = Field(default=2, ge=1, le=16)  # transcriptions at once (CTranslate2 num_workers)
    stt_max_batch: int = Field(default=4, ge=1, le=32)  # questions a worker transcribes together when several wait
    stt_short_window: bool = True
    voices: dict[str, VoiceEntry] = {}


class Telephony(_Frozen):
    max_concurrent_calls: int = Field(default=8, ge=1, le=1000)
    max_call_minutes: float = Field(default=15.0, ge=1.0, le=240.0)
    silence_prompt_s: float = Field(default=12.0, ge=3.0, le=120.0)


class Settings(_Frozen):
    languages: tuple[str, ...]
    default_language: str = "de"
    operator: Operator
    opening_hours: OpeningHoursConfig
    transfer: Transfer
    knowledge: KnowledgeConfig = KnowledgeConfig()
    paths: Paths = Paths()
    storage: Storage = Storage()
    server: Server = Server()
    twilio: Twilio = Twilio()
    voice: Voice = Voice()
    telephony: Telephony = Telephony()
    widget: WidgetConfig = WidgetConfig()
    root: Path = PROJECT_ROOT

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [lang for lang in value if lang not in KNOWN_LANGUAGES]
        if unknown:
            raise ValueError(f"unsupported language(s) {unknown}; allowed: {', '.join(KNOWN_LANGUAGES)}")
        if not value:
            raise ValueError("at least one language is required")
        return value

    @model_validator(mode="after")
    def _default_served(self) -> Settings:
        if self.default_language not in self.languages:
            raise ValueError(f"default_language {self.default_language!r} is not in languages")
        missing = [lang for lang in self.languages if lang not in self.voice.voices]
        if missing:
            raise ValueError(f"voice.voices has no voice for {missing}; every served language needs one")
        return self

    def path(self, relative: Path) -> Path:
        """Resolve a configured path against the project root."""
        return relative if relative.is_absolute() else self.root / relative

    @property
    def cache_dir(self) -> Path:
        return self.path(self.paths.cache)

    @property
    def data_dir(self) -> Path:
        return self.path(self.paths.data)

    @property
    def database_url(self) -> str:
        return self.storage.database_url or f"sqlite:///{self.data_dir / 'hotline.db'}"


def load_settings(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read, override and validate the configuration; raise `ConfigError` naming the bad key."""
    path = path or DEFAULT_CONFIG
    environ = os.environ if environ is None else environ
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections")
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX):
            _set(raw, name[len(ENV_PREFIX) :].lower().replace("__", "."), yaml.safe_load(value))
        elif name in ENV_ALIASES and value:
            _set(raw, ENV_ALIASES[name], value)
    for key, value in (overrides or {}).items():
        _set(raw, key, value)
    raw.setdefault("root", str(path.resolve().parent.parent))
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for key in keys[:-1]:
        child = tree.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"cannot set {dotted}: {key} is not a section")
        tree = child
    tree[keys[-1]] = value


def _describe(exc: ValidationError, path: Path) -> str:
    lines = [f"invalid configuration in {path}:"]
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check the spelling against config/hotline.yaml)"
        lines.append(f"  {key}: {message} (got {error.get('input')!r})")
    return "\n".join(lines)
