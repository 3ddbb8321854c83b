"""The project's own evaluation set and retrieval metrics per language (Haystack's evaluators)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml
from haystack import Document
from haystack.components.evaluators import DocumentMRREvaluator, DocumentRecallEvaluator

from knowledge.retrieval import KnowledgeBase


@dataclass(frozen=True)
class EvalQuestion:
    topic: str
    language: str
    text: str


@dataclass(frozen=True)
class LanguageScores:
    language: str
    questions: int
    recall_at_1: float
    recall_at_3: float
    mrr: float
    misses: tuple[tuple[str, str, str], ...]  # (question, expected topic, retrieved topic)


def load_eval_set(directory: Path, known_topics: set[str], unanswerable: bool = False) -> list[EvalQuestion]:
    """The held-out questions: per topic (`<topic>.yaml`, several languages) and per language
    (`questions/<lang>.yaml`). With `unanswerable`, instead those no topic answers (topic ""): `unanswerable.yaml`
    and `unanswerable/<lang>.yaml`."""
    questions = []
    for path in sorted(directory.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        topic = data.get("topic")
        if (topic is None) != unanswerable:
            continue
        if topic is None:
            topic = ""
        elif topic not in known_topics:
            raise ValueError(f"{path}: topic {topic!r} is not a known topic")
        for row in data.get("questions", []):
            questions.append(EvalQuestion(topic, str(row["lang"]), str(row["text"])))
    folder = directory / ("unanswerable" if unanswerable else "questions")
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        language = str(data.get("language") or path.stem)
        for index, row in enumerate(data.get("questions", [])):
            if unanswerable:
                questions.append(EvalQuestion("", language, str(row)))
                continue
            if row.get("topic") not in known_topics:
                raise ValueError(f"{path}: questions[{index}]: topic {row.get('topic')!r} is not a known topic")
            questions.append(EvalQuestion(str(row["topic"]), language, str(row["text"])))
    return questions


def evaluate(knowledge: KnowledgeBase, questions: list[EvalQuestion]) -> list[LanguageScores]:
    by_language: dict[str, list[tuple[EvalQuestion, list[str]]]] = defaultdict(list)
    for question in questions:
        ranked = [hit.topic.id for hit in knowledge.search(question.text, top_k=10, language=question.language).hits]
        by_language[question.language].append((question, ranked))
    recall = DocumentRecallEvaluator(mode="single_hit")
    mrr = DocumentMRREvaluator()
    scores = []
    for language in sorted(by_language):
        rows = by_language[language]
        truth = [[Document(content=q.topic)] for q, _ in rows]

        def top(k: int, rows: list[tuple[EvalQuestion, list[str]]] = rows) -> list[list[Document]]:
            return [[Document(content=t) for t in ranked[:k]] for _, ranked in rows]

        scores.append(
            LanguageScores(
                language=language,
                questions=len(rows),
                recall_at_1=recall.run(truth, top(1))["score"],
                recall_at_3=recall.run(truth, top(3))["score"],
                mrr=mrr.run(truth, top(10))["score"],
                misses=tuple((q.text, q.topic, ranked[0] if ranked else "-") for q, ranked in rows
                             if not ranked or ranked[0] != q.topic),
            )
        )
    return scores
