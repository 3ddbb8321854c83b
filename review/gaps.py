"""Knowledge gaps: the questions the hotline could not answer, grouped so that staff see missing topics.

The grouping is deliberately simple and explainable, no model involved:
1. normalise each question: lower case, letters and digits only, without common German/English filler words;
2. describe it by the set of character trigrams of its words (" wohnung " -> " wo", "woh", "ohn", ...),
   which matches inflections and compounds ("anmelden", "Anmeldung", "Wohnsitzanmeldung") well;
3. two questions are similar when the Jaccard index of their trigram sets (shared / all) is at least
   `threshold`; a group is every question linked to another by a chain of similar pairs (single linkage).
The group's label is its most central question (the highest summed similarity to the others).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

DEFAULT_THRESHOLD = 0.35

_WORD = re.compile(r"[^\W_]+")
# Filler words that make unrelated questions look alike ("Wie kann ich ...?"), German and English.
_FILLER = """
    a an and are can could do does for from get has have how i if in is it me my of on or the to what when
    where which who why will with would you your please hello hi
    aber an auch bei bin bis da das dass dem den der des die doch du ein eine einen einer er es für gibt
    guten habe haben hallo ich ihr im in ist ja kann können mein meine mich mir mit muss nach nicht noch oder
    sie sind so tag und uns von was wer wie wo zu zum zur bitte man
"""
_STOPWORDS = frozenset(_FILLER.split())


@dataclass(frozen=True)
class GapQuestion:
    turn_id: int
    call_id: str
    at: datetime
    language: str
    question: str
    confidence: float
    unanswered: bool


@dataclass(frozen=True)
class GapGroup:
    label: str
    questions: tuple[GapQuestion, ...]

    @property
    def count(self) -> int:
        return len(self.questions)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted({q.language for q in self.questions}))


def trigrams(text: str) -> frozenset[str]:
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]
    grams: set[str] = set()
    for word in words:
        padded = f" {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return frozenset(grams)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def group_questions(questions: Sequence[GapQuestion], threshold: float = DEFAULT_THRESHOLD) -> list[GapGroup]:
    """Groups of similar questions, largest first (ties: most recent first)."""
    grams = [trigrams(q.question) for q in questions]
    parent = list(range(len(questions)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(questions)):
        for j in range(i + 1, len(questions)):
            if root(i) != root(j) and similarity(grams[i], grams[j]) >= threshold:
                parent[root(j)] = root(i)
    members: dict[int, list[int]] = {}
    for i in range(len(questions)):
        members.setdefault(root(i), []).append(i)
    groups = [_group(indices, questions, grams) for indices in members.values()]
    groups.sort(key=lambda g: (-g.count, -max(q.at.timestamp() for q in g.questions)))
    return groups


def _group(indices: list[int], questions: Sequence[GapQuestion], grams: list[frozenset[str]]) -> GapGroup:
    def centrality(i: int) -> float:
        return sum(similarity(grams[i], grams[j]) for j in indices if j != i)

    central = max(indices, key=lambda i: (centrality(i), -len(questions[i].question)))
    ordered = sorted((questions[i] for i in indices), key=lambda q: q.at, reverse=True)
    return GapGroup(label=questions[central].question, questions=tuple(ordered))
