"""The widget socket's wire format, kept here so nothing else knows it (like pipecat's serializers).

Browser to server:
- binary frames: the microphone, 16-bit little-endian PCM, mono, 16 kHz (any length up to the frame limit);
- JSON text frames: ``{"type": "hello", "lang": "en"|null, "transcript": true|false}`` (first, once;
  ``transcript`` defaults to true), ``{"type": "text", "text": ...}`` (a typed question),
  ``{"type": "lang", "lang": "tr"}``, ``{"type": "end"}`` (press-to-talk released: the turn is over),
  ``{"type": "staff"}`` (how to reach staff now), ``{"type": "callback", "name", "phone", "email", "question",
  "consent"}``, ``{"type": "transcript", "keep": false}`` (the "keep no transcript" switch: false deletes
  what was kept of this conversation and keeps nothing more; true keeps the turns from then on).

Server to browser:
- binary frames: the answer's audio, 16-bit little-endian PCM, mono, 16 kHz, in order, to be played in order;
- JSON text frames: ``ready`` (after hello: the language, the languages, staff), ``partial`` and ``final``
  (captions of what the visitor said), ``reply`` (the answer's text and its sources), ``barge_in`` (stop
  playing now: the visitor speaks), ``staff``, ``language``, ``callback`` (saved), ``transcript`` (``{"keep"}``: the switch took effect), ``error``
  (``{"code", "message", "fatal"}``; fatal errors are followed by the socket closing).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SAMPLE_RATE = 16_000
MAX_TEXT_CHARS = 1_000


class ProtocolError(ValueError):
    """A frame the widget never sends: the session that sent it is closed."""


@dataclass(frozen=True)
class Hello:
    lang: str | None
    transcript: bool = True  # the visitor agreed to a written transcript (the panel's switch)


@dataclass(frozen=True)
class TranscriptChoice:
    keep: bool


@dataclass(frozen=True)
class TypedQuestion:
    text: str = field(repr=False)


@dataclass(frozen=True)
class ChooseLanguage:
    lang: str


@dataclass(frozen=True)
class EndOfSpeech:
    pass


@dataclass(frozen=True)
class StaffInfoRequest:
    pass


@dataclass(frozen=True)
class CallbackForm:
    # What the visitor wrote never shows in a repr (reprs reach logs and tracebacks).
    name: str = field(repr=False)
    phone: str = field(repr=False)
    email: str = field(repr=False)
    question: str = field(repr=False)
    consent: bool


ClientMessage = (Hello | TypedQuestion | ChooseLanguage | EndOfSpeech | StaffInfoRequest | CallbackForm
                 | TranscriptChoice)


def decode_audio(frame: bytes) -> np.ndarray:
    """PCM16 little-endian bytes as float32 samples in [-1, 1)."""
    if not frame or len(frame) % 2:
        raise ProtocolError(f"an audio frame must hold whole 16-bit samples (got {len(frame)} bytes)")
    return np.frombuffer(frame, dtype="<i2").astype(np.float32) / 32768.0


def encode_audio(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def parse_message(text: str) -> ClientMessage:
    """One JSON control message, or `ProtocolError` saying what is wrong with it."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ProtocolError("a text frame must be a JSON object") from None
    if not isinstance(data, dict):
        raise ProtocolError("a text frame must be a JSON object")
    kind = data.get("type")
    if kind == "hello":
        lang = data.get("lang")
        return Hello(_string(data, "lang", 16) if lang is not None else None,
                     _flag(data, "transcript", default=True))
    if kind == "transcript":
        return TranscriptChoice(_flag(data, "keep"))
    if kind == "text":
        return TypedQuestion(_string(data, "text", MAX_TEXT_CHARS))
    if kind == "lang":
        return ChooseLanguage(_string(data, "lang", 16))
    if kind == "end":
        return EndOfSpeech()
    if kind == "staff":
        return StaffInfoRequest()
    if kind == "callback":
        consent = data.get("consent", False)
        if not isinstance(consent, bool):
            raise ProtocolError("callback.consent must be true or false")
        return CallbackForm(*(_string(data, key, limit, optional=True) for key, limit in CALLBACK_FIELDS),
                            consent=consent)
    raise ProtocolError(f"unknown message type {str(kind)[:40]!r}")


CALLBACK_FIELDS = (("name", 100), ("phone", 40), ("email", 200), ("question", MAX_TEXT_CHARS))
_PHONE = re.compile(r"^\+?[0-9][0-9 ()/.\-]{3,30}[0-9]$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def callback_problem(form: CallbackForm) -> str | None:
    """The form field that is wrong (for the panel to point at), or None when it can be stored."""
    if not form.phone and not form.email:
        return "phone"
    if form.phone and not _PHONE.match(form.phone):
        return "phone"
    if form.email and not _EMAIL.match(form.email):
        return "email"
    if not form.consent:
        return "consent"
    return None


def _flag(data: dict[str, Any], key: str, default: bool | None = None) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ProtocolError(f"{data.get('type')}.{key} must be true or false")
    return value


def _string(data: dict[str, Any], key: str, limit: int, optional: bool = False) -> str:
    value = data.get(key, "" if optional else None)
    if not isinstance(value, str):
        raise ProtocolError(f"{data.get('type')}.{key} must be a string")
    if len(value) > limit:
        raise ProtocolError(f"{data.get('type')}.{key} is longer than {limit} characters")
    return value.strip()


def message(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields}, ensure_ascii=False)
