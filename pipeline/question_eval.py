"""How the whole dialogue does on the evaluation questions: the caller's first utterance, as text.

Each question is asked in a fresh conversation (language not known, as a first utterance on the phone), so it
measures language identification, intents, retrieval and the answer thresholds together. A choice question
counts as right "with a choice" when the right topic is one of the two offered (the caller then picks it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from knowledge.evaluation import EvalQuestion, load_eval_set
from pipeline.dialogue import Conversation, Dialogue, Reply


class FirstUtteranceRates:
    """The shares of a tally of first utterances (as text or spoken): `questions`, `answered_right` (the right
    topic at once), `chosen_right` (a choice question offering it) and `language_right`."""

    questions: int
    answered_right: int
    chosen_right: int
    language_right: int

    @property
    def right_at_once(self) -> float:
        return self.answered_right / max(self.questions, 1)

    @property
    def right_with_choice(self) -> float:
        return (self.answered_right + self.chosen_right) / max(self.questions, 1)

    @property
    def language_accuracy(self) -> float:
        return self.language_right / max(self.questions, 1)


@dataclass(frozen=True)
class QuestionScores(FirstUtteranceRates):
    language: str
    questions: int
    answered_right: int  # answered at once with the right topic
    chosen_right: int  # a choice question offering the right topic
    answered_wrong: int
    not_answered: int  # asked to rephrase, or "I cannot answer that"
    language_right: int
    misses: tuple[tuple[str, str, str], ...]  # (question, expected topic, what happened)


@dataclass(frozen=True)
class UnanswerableScores:
    language: str
    questions: int
    confident: int  # answered with a topic although none answers it
    answered: tuple[str, ...]


def judged(reply: Reply, topic: str) -> tuple[str, str]:
    """How a first reply did for a question about `topic`: right (answered with it at once), chosen (a choice
    question offering it), wrong or none (rephrase, cannot answer); and what the dialogue did, for the misses."""
    if reply.action == "answer" and reply.intent is None:
        return ("right" if reply.topic == topic else "wrong"), reply.topic or "-"
    if reply.intent == "choose":
        return ("chosen" if topic in reply.options else "wrong"), "choice " + "/".join(reply.options)
    return "none", f"{reply.action} {reply.intent or ''} {reply.topic or ''}".strip()


def evaluate_questions(dialogue: Dialogue, questions: list[EvalQuestion], at: datetime) -> list[QuestionScores]:
    rows: dict[str, list[tuple[EvalQuestion, str, str, bool]]] = defaultdict(list)
    for question in questions:
        reply = dialogue.respond(Conversation(), question.text, at)
        outcome, what = judged(reply, question.topic)
        rows[question.language].append((question, outcome, what, reply.language == question.language))
    scores = []
    for language in sorted(rows):
        results = rows[language]
        count = {kind: sum(1 for _, outcome, _, _ in results if outcome == kind) for kind in ("right", "chosen", "wrong")}
        scores.append(QuestionScores(
            language, len(results), count["right"], count["chosen"], count["wrong"],
            len(results) - sum(count.values()), sum(1 for *_, lang_ok in results if lang_ok),
            tuple((q.text, q.topic, what) for q, outcome, what, _ in results if outcome not in ("right", "chosen")),
        ))
    return scores


def evaluate_unanswerable(dialogue: Dialogue, questions: list[EvalQuestion], at: datetime) -> list[UnanswerableScores]:
    answered: dict[str, list[str]] = defaultdict(list)
    totals: dict[str, int] = defaultdict(int)
    for question in questions:
        totals[question.language] += 1
        reply = dialogue.respond(Conversation(), question.text, at)
        if reply.action == "answer" and reply.intent is None:
            answered[question.language].append(question.text)
    return [UnanswerableScores(lang, totals[lang], len(answered[lang]), tuple(answered[lang])) for lang in sorted(totals)]


def load_questions(dialogue: Dialogue, eval_dir: Path, unanswerable: bool = False) -> list[EvalQuestion]:
    return load_eval_set(eval_dir, set(dialogue.knowledge.topics), unanswerable=unanswerable)
