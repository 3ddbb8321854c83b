"""Each served language's own everyday words, taken from the knowledge base's texts in that language.

Callers and speech recognition often drop diacritics ("unde gasesc", "moge"); fastText then spreads a sentence
over close unserved languages. Words that only one served language's texts use ("unde", "pentru", "trebuie";
"gdzie", "jest") are evidence it can lean on. They are compared without diacritics, as callers type them.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

from knowledge.topics import Topic

MIN_USES = 3  # a word the language's texts use this often, and the other languages' texts never
_WORD = re.compile(r"[^\W\d_]+")
_LINK = re.compile(r"https?://\S+|www\.\S+|\S+@\S+")


def fold(word: str) -> str:
    """Lowercase without diacritics: "Gdzie może" and "gdzie moze" are the same words."""
    decomposed = unicodedata.normalize("NFKD", word.lower().replace("ł", "l").replace("ı", "i"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def own_words(topics: Iterable[Topic]) -> dict[str, frozenset[str]]:
    """language -> folded words its texts use at least `MIN_USES` times and no other language's texts use."""
    counts: dict[str, Counter[str]] = {}
    for topic in topics:
        for language, localized in topic.answers.items():
            texts = [localized.answer, localized.spoken_details, localized.label, *localized.questions]
            words = (fold(w) for text in texts for w in _WORD.findall(_LINK.sub(" ", text)))
            counts.setdefault(language, Counter()).update(w for w in words if len(w) >= 2)
    return {
        language: frozenset(
            word for word, uses in counter.items()
            if uses >= MIN_USES and not any(word in other for lang, other in counts.items() if lang != language)
        )
        for language, counter in counts.items()
    }


def lexicon(topics: Iterable[Topic]) -> dict[str, frozenset[str]]:
    """language -> every folded word its texts use: a reading of speech made of known words is likelier right."""
    words: dict[str, set[str]] = {}
    for topic in topics:
        for language, localized in topic.answers.items():
            texts = [localized.answer, localized.spoken_details, localized.details, localized.label, *localized.questions]
            words.setdefault(language, set()).update(
                fold(w) for text in texts for w in _WORD.findall(_LINK.sub(" ", text)))
    return {language: frozenset(found) for language, found in words.items()}


class Lexicon:
    """The share of a text's words that the knowledge base uses in a language: "Wir sind kostet, dass
    Deutschland im Monat ..." is all German words; the same audio read as English ("We feel costed, does Dutch
    lenticate ...") is half words no English text of ours has."""

    def __init__(self, words: dict[str, frozenset[str]]) -> None:
        self.words = words

    @classmethod
    def of(cls, topics: Iterable[Topic]) -> Lexicon:
        return cls(lexicon(topics))

    def share(self, text: str, language: str) -> float:
        found = [fold(w) for w in _WORD.findall(text)]
        known = self.words.get(language, frozenset())
        return sum(1 for w in found if w in known) / len(found) if found else 0.0
