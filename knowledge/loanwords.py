"""German domain words that callers carry into their own language ("la Ausländerbehörde", "Kindergeld-ul").

They say nothing about the language a caller speaks, so language identification masks them. The list comes
from the knowledge base itself: a German term is a loanword when the topics' texts in other languages use it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from knowledge.topics import LocalizedAnswer, Topic

GERMAN = "de"
MIN_LETTERS = 5  # shorter capitalised words ("Card", "Euro") are as often the other language's own words
_WORD = re.compile(r"[^\W\d_]+")
_LINK = re.compile(r"https?://\S+|www\.\S+|\S+@\S+|\S+\.(?:de|com|eu|org|net)\S*")  # not words anyone says
_LATIN = re.compile(r"^[a-zäöüßéèáàóòíìúùâêîôûçñ]+$")


def loanwords(topics: Iterable[Topic]) -> frozenset[str]:
    """Lowercased German terms (nouns and names, capitalised in the German texts) that the other languages'
    texts use as German words, e.g. "anmeldung", "ausländerbehörde", "kindergeld", "wetzlar".

    The other languages write a borrowed German noun mostly capitalised, their own words mostly not: the
    French "adresse" or the Polish "firma" is no loanword although German has "Adresse" and "Firma"."""
    german: set[str] = set()
    capitalised: Counter[str] = Counter()
    lowercase: Counter[str] = Counter()
    for topic in topics:
        for language, localized in topic.answers.items():
            for word in _words(localized):
                if len(word) < MIN_LETTERS or not _LATIN.match(word.lower()) or word.isupper():
                    continue
                if language == GERMAN:
                    if word[0].isupper():
                        german.add(word.lower())
                elif word[0].isupper():
                    capitalised[word.lower()] += 1
                else:
                    lowercase[word.lower()] += 1
    return frozenset(w for w in german if capitalised[w] > lowercase[w])


def _words(localized: LocalizedAnswer) -> list[str]:
    texts = [localized.answer, localized.details, localized.spoken_details, localized.label, *localized.questions]
    return [word for text in texts for word in _WORD.findall(_LINK.sub(" ", text))]


def domain_terms(topics: Iterable[Topic], language: str = GERMAN, count: int = 24, min_letters: int = 9) -> list[str]:
    """The domain's long German terms as the texts in `language` write them, most used first ("Ausländerbehörde",
    "Deutschlandticket", "Integrationskurs"): a prompt that lets speech recognition spell them. A caller speaking
    another language says these words in German, so its prompt is the German terms its own texts borrow."""
    topics = list(topics)
    borrowed = loanwords(topics)
    used: Counter[str] = Counter()
    for topic in topics:
        localized = topic.answers.get(language)
        if localized is not None:
            used.update(w for w in _words(localized) if len(w) >= min_letters and w.lower() in borrowed)
    return [word for word, _ in used.most_common(count)]
