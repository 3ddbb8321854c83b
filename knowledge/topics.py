"""The curated topics: one YAML file each, validated strictly (see knowledge/README.md)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

MAX_ANSWER_WORDS = 45
MAX_SPOKEN_DETAILS_WORDS = 80
MIN_QUESTIONS = 8  # ways of asking per language: retrieval matches callers' words against them
PLACEHOLDERS = frozenset(
    {"operator_name", "operator_address", "operator_phone", "operator_email", "operator_website", "opening_hours"}
)
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_URL_IN_SPEECH = re.compile(r"https?://|www\.|\.(de|com|eu|org)\b/?", re.IGNORECASE)
_EMAIL = re.compile(r"\S+@\S+\.\S+")
_HOSTNAME = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.IGNORECASE)
_BRACES = re.compile(r"\{([^{}]*)\}")
_TOPIC_KEYS = {"id", "title", "checked", "valid_until", "sources", "answers"}
_REQUIRED_TOPIC_KEYS = _TOPIC_KEYS - {"valid_until"}
_LANGUAGE_KEYS = {"answer", "questions", "details", "spoken_details", "label"}
MAX_LABEL_WORDS = 8
# Placeholders that are written, not said: an address to type is no help read aloud on a phone line.
_UNSPOKEN_PLACEHOLDERS = frozenset({"operator_email", "operator_website"})


class TopicError(ValueError):
    """A topic file breaks a rule: names the file, the field and the problem."""

    def __init__(self, path: Path, field: str, problem: str) -> None:
        super().__init__(f"{path}: {field}: {problem}")
        self.path, self.field, self.problem = path, field, problem


@dataclass(frozen=True)
class Source:
    title: str
    url: str


@dataclass(frozen=True)
class LocalizedAnswer:
    answer: str  # spoken on the phone
    questions: tuple[str, ...]
    details: str = ""  # written: the widget, the review UI, a text message (links allowed)
    spoken_details: str = ""  # what "tell me more" says aloud: written for the ear, no links
    label: str = ""  # a short name for a choice question: "Do you mean <label> or <label>?"


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    checked: date
    sources: tuple[Source, ...]
    answers: Mapping[str, LocalizedAnswer]
    valid_until: date | None = None  # a fact in it changes on this day (a new amount, price or threshold)

    def expiry(self, today: date, warn_days: int = 30) -> str | None:
        """'expired' or 'expiring' when the facts are past or within `warn_days` of `valid_until`, else None."""
        if self.valid_until is None:
            return None
        if today >= self.valid_until:
            return "expired"
        if (self.valid_until - today).days <= warn_days:
            return "expiring"
        return None


def load_topics(directory: Path, languages: Iterable[str]) -> list[Topic]:
    """Load and validate every `*.yaml` in `directory`; the first broken file raises `TopicError`."""
    languages = tuple(languages)
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise TopicError(directory, "-", "no topic files (*.yaml) found")
    return [parse_topic(path, languages) for path in files]


def content_digest(directory: Path) -> str:
    """A digest of every topic file, so the index is rebuilt exactly when the content changes."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.yaml")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def parse_topic(path: Path, languages: tuple[str, ...]) -> Topic:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TopicError(path, "-", f"not valid YAML: {exc}") from None
    except UnicodeDecodeError:
        raise TopicError(path, "-", "not UTF-8 text") from None
    if not isinstance(raw, dict):
        raise TopicError(path, "-", "must be a mapping with id, title, checked, sources, answers")
    missing = _REQUIRED_TOPIC_KEYS - raw.keys()
    if missing:
        raise TopicError(path, min(missing), "missing")
    unknown = raw.keys() - _TOPIC_KEYS
    if unknown:
        raise TopicError(path, min(unknown), f"unknown field; allowed: {', '.join(sorted(_TOPIC_KEYS))}")
    topic_id = _text(path, "id", raw["id"])
    if not _ID.match(topic_id) or topic_id != path.stem:
        raise TopicError(path, "id", f"{topic_id!r} must be lowercase-with-dashes and equal the file name")
    checked = raw["checked"]
    if not isinstance(checked, date):
        raise TopicError(path, "checked", f"{checked!r} is not a date YYYY-MM-DD")
    valid_until = raw.get("valid_until")
    if valid_until is not None and not isinstance(valid_until, date):
        raise TopicError(path, "valid_until", f"{valid_until!r} is not a date YYYY-MM-DD")
    if valid_until is not None and valid_until <= checked:
        raise TopicError(path, "valid_until", f"{valid_until} is not after checked ({checked})")
    return Topic(
        id=topic_id,
        title=_text(path, "title", raw["title"]),
        checked=checked,
        sources=_sources(path, raw["sources"]),
        answers=_answers(path, raw["answers"], languages),
        valid_until=valid_until,
    )


def _text(path: Path, field: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TopicError(path, field, "must be non-empty text")
    return " ".join(value.split())


def _sources(path: Path, value: Any) -> tuple[Source, ...]:
    if not isinstance(value, list) or not value:
        raise TopicError(path, "sources", "at least one source (title and url) is required")
    sources = []
    for index, item in enumerate(value):
        field = f"sources[{index}]"
        if not isinstance(item, dict):
            raise TopicError(path, field, "must be a mapping with title and url")
        url = _text(path, f"{field}.url", item.get("url"))
        problem = _url_problem(url)
        if problem:
            raise TopicError(path, f"{field}.url", f"{url!r} {problem}")
        sources.append(Source(_text(path, f"{field}.title", item.get("title")), url))
    return tuple(sources)


def _url_problem(url: str) -> str | None:
    """Why `url` is no source a caller can trust to open (None when it is a well-formed https URL)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "is not a well-formed URL"
    if parts.scheme != "https":
        return "is not an https URL"
    if " " in url or not parts.hostname or not _HOSTNAME.match(parts.hostname) or port not in (None, 443):
        return "is not a well-formed https URL (a public host name, no spaces, no custom port)"
    return None


def _answers(path: Path, value: Any, languages: tuple[str, ...]) -> dict[str, LocalizedAnswer]:
    if not isinstance(value, dict):
        raise TopicError(path, "answers", "must map each language code to answer, questions, details")
    for language in languages:
        if language not in value:
            raise TopicError(path, f"answers.{language}", "missing language")
    return {
        language: _localized(path, f"answers.{language}", value[language]) for language in languages
    }


def _localized(path: Path, field: str, value: Any) -> LocalizedAnswer:
    if not isinstance(value, dict):
        raise TopicError(path, field, "must be a mapping with answer, questions and optional details")
    unknown = value.keys() - _LANGUAGE_KEYS
    if unknown:
        raise TopicError(path, f"{field}.{min(unknown)}", "unknown field; allowed: answer, questions, details, spoken_details, label")
    answer = _text(path, f"{field}.answer", value.get("answer"))
    words = len(answer.split())
    if words > MAX_ANSWER_WORDS:
        raise TopicError(path, f"{field}.answer", f"{words} words; a spoken answer has at most {MAX_ANSWER_WORDS}")
    if _URL_IN_SPEECH.search(answer) or "|" in answer:
        raise TopicError(path, f"{field}.answer", "a spoken answer must not contain URLs or tables")
    _check_spoken(path, f"{field}.answer", answer)
    questions = value.get("questions")
    if not isinstance(questions, list) or len(questions) < MIN_QUESTIONS:
        raise TopicError(path, f"{field}.questions", f"at least {MIN_QUESTIONS} example questions are required")
    details = value.get("details") or ""
    spoken_details = value.get("spoken_details") or ""
    if details and not spoken_details:
        raise TopicError(path, f"{field}.spoken_details",
                         "missing: details need their own text for the ear (at most 80 words, no links)")
    if spoken_details:
        spoken_details = _text(path, f"{field}.spoken_details", spoken_details)
        words = len(spoken_details.split())
        if words > MAX_SPOKEN_DETAILS_WORDS:
            raise TopicError(path, f"{field}.spoken_details",
                             f"{words} words; details read aloud have at most {MAX_SPOKEN_DETAILS_WORDS}")
        if _URL_IN_SPEECH.search(spoken_details):
            raise TopicError(path, f"{field}.spoken_details", "details read aloud must not contain URLs")
        _check_spoken(path, f"{field}.spoken_details", spoken_details)
    for name, text in (("answer", answer), ("details", details if isinstance(details, str) else ""),
                       ("spoken_details", spoken_details)):
        for placeholder in _BRACES.findall(text):
            if placeholder not in PLACEHOLDERS:
                raise TopicError(
                    path, f"{field}.{name}", f"unknown placeholder {{{placeholder}}}; allowed: {sorted(PLACEHOLDERS)}"
                )
    label = value.get("label") or ""
    if label:
        label = _text(path, f"{field}.label", label)
        if len(label.split()) > MAX_LABEL_WORDS or _URL_IN_SPEECH.search(label) or "{" in label:
            raise TopicError(path, f"{field}.label", f"a short spoken name: at most {MAX_LABEL_WORDS} words, "
                                                     "no links or placeholders")
    return LocalizedAnswer(
        answer=answer,
        questions=tuple(_text(path, f"{field}.questions[{i}]", q) for i, q in enumerate(questions)),
        details=_text(path, f"{field}.details", details) if details else "",
        spoken_details=spoken_details,
        label=label,
    )


def _check_spoken(path: Path, field: str, text: str) -> None:
    """Spoken text carries no e-mail address, nor a placeholder that is only useful written down."""
    if _EMAIL.search(text):
        raise TopicError(path, field, "spoken text must not contain an e-mail address")
    unspoken = sorted(set(_BRACES.findall(text)) & _UNSPOKEN_PLACEHOLDERS)
    if unspoken:
        raise TopicError(path, field, f"{{{unspoken[0]}}} is written, not spoken: keep it in details")
