"""What the caller wants besides a topic: staff, an emergency, a repeat, details, thanks, goodbye, a language."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

# Checked in this order: an emergency is answered before anything else.
INTENTS = ("emergency", "human", "goodbye", "thanks", "repeat", "details", "yes", "no")
# Small talk only counts in a short utterance: "thanks, and how do I register?" is a question.
SHORT_INTENTS = frozenset({"goodbye", "thanks", "repeat", "details", "yes", "no"})
SHORT_WORDS = 6


def normalise(text: str) -> str:
    """Lowercase, punctuation to spaces, one space between words, padded so phrases match whole words."""
    kept = []
    for char in text.lower():
        category = unicodedata.category(char)
        kept.append(" " if category[0] in "PSZC" else char)
    return " " + " ".join("".join(kept).split()) + " "


@dataclass(frozen=True)
class IntentMatch:
    intents: tuple[str, ...]  # in priority order
    switch_to: str | None  # a served language the caller asked for


class IntentMatcher:
    """Matches the phrases of `config/intents.yaml` as whole words, in every served language at once."""

    def __init__(self, phrases: dict[str, dict[str, list[str]]], language_names: dict[str, list[str]],
                 switch_markers: dict[str, list[str]], served: tuple[str, ...]) -> None:
        self._phrases = {
            intent: [normalise(p) for lang in served for p in phrases.get(intent, {}).get(lang, [])]
            for intent in INTENTS
        }
        self._names = {lang: [normalise(n) for n in language_names.get(lang, [])] for lang in served}
        self._markers = [normalise(m) for lang in served for m in switch_markers.get(lang, [])]

    @classmethod
    def from_file(cls, path: Path, served: tuple[str, ...]) -> IntentMatcher:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        missing = [key for key in ("intents", "language_names", "switch_markers") if key not in data]
        if missing:
            raise ValueError(f"{path}: missing section(s) {missing}")
        return cls(data["intents"], data["language_names"], data["switch_markers"], served)

    def match(self, text: str) -> IntentMatch:
        padded = normalise(text)
        words = len(padded.split())
        found = tuple(
            intent
            for intent in INTENTS
            if (intent not in SHORT_INTENTS or words <= SHORT_WORDS)
            and any(phrase in padded for phrase in self._phrases[intent])
        )
        return IntentMatch(found, self._requested_language(padded, words))

    def _requested_language(self, padded: str, words: int) -> str | None:
        named = [lang for lang, names in self._names.items() if any(name in padded for name in names)]
        if len(named) != 1 or words > 8:
            return None
        if words <= 3 or any(marker in padded for marker in self._markers):
            return named[0]
        return None
