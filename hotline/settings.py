"""Settings: `config/hotline.yaml`, overridden by environment variables, validated once at start-up.

This is the only module that reads the environment. Everything else receives a `Settings` object.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from pipeline.config import (
    KNOWN_LANGUAGES,
    WEEKDAYS,
    HolidayCalendar,
    KnowledgeConfig,
    OpeningHoursConfig,
    Operator,
    Section,
    VoiceConfig,
    VoiceEntry,
)
from review.config import ReviewConfig, Storage
from telephony.config import Server, TelephonyConfig, Transfer, Twilio
from telephony.widget.config import WidgetConfig

# Each room defines the sections it needs (pipeline/config.py, telephony/config.py, review/config.py); this
# module composes them. The names below are re-exported for the CLI, the app factory and the tests.
__all__ = [
    "KNOWN_LANGUAGES",
    "WEEKDAYS",
    "ConfigError",
    "HolidayCalendar",
    "KnowledgeConfig",
    "MetricsConfig",
    "OpeningHoursConfig",
    "Operator",
    "Paths",
    "ReviewConfig",
    "Server",
    "Settings",
    "Storage",
    "TelephonyConfig",
    "Transfer",
    "Twilio",
    "VoiceConfig",
    "VoiceEntry",
    "WidgetConfig",
    "load_settings",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "hotline.yaml"
ENV_PREFIX = "HOTLINE__"
# Well-known variable names an operator expects to work, mapped to the key they set.
ENV_ALIASES = {
    "DATABASE_URL": "storage.database_url",
    "TWILIO_ACCOUNT_SID": "twilio.account_sid",
    "TWILIO_AUTH_TOKEN": "twilio.auth_token",
    "TWILIO_API_BASE_URL": "twilio.api_base_url",
    "TWILIO_SMS_FROM": "twilio.sms_from",
    "HOTLINE_PUBLIC_URL": "server.public_url",
}


class ConfigError(Exception):
    """An invalid configuration: the message names the key and what is allowed."""


class Paths(Section):
    cache: Path = Path(".cache")
    data: Path = Path("data")


class MetricsConfig(Section):
    # Without a token /metrics answers only loopback requests that no proxy forwarded (Prometheus on the
    # same host); with one, any request bearing `Authorization: Bearer <token>`.
    token: str | None = Field(default=None, min_length=16)


class ApiConfig(Section):
    # /api/ask per client address (token bucket): each question costs a knowledge search and an embedding,
    # CPU that the calls need. Sustained rate a minute, and how many may come at once.
    ask_per_min: float = Field(default=30, gt=0, le=60_000)
    ask_burst: int = Field(default=10, ge=1, le=10_000)


class Settings(Section):
    languages: tuple[str, ...]
    default_language: str = "de"
    operator: Operator
    opening_hours: OpeningHoursConfig
    transfer: Transfer
    knowledge: KnowledgeConfig = KnowledgeConfig()
    paths: Paths = Paths()
    storage: Storage = Storage()
    review: ReviewConfig = ReviewConfig()
    server: Server = Server()
    twilio: Twilio = Twilio()
    voice: VoiceConfig = VoiceConfig()
    telephony: TelephonyConfig = TelephonyConfig()
    widget: WidgetConfig = WidgetConfig()
    metrics: MetricsConfig = MetricsConfig()
    api: ApiConfig = ApiConfig()
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
