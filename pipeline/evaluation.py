"""How well the intent matcher understands callers, per language, on knowledge/eval/intents/<lang>.yaml.

    hotline eval --part intents [--misses]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.intents import IntentMatcher

NEGATIVE = "none"  # the evaluation sets' class for utterances without an intent (questions, look-alikes)


@dataclass(frozen=True)
class IntentScores:
    language: str
    total: int
    correct: int
    recall: dict[str, float]  # per intent, the share of its utterances recognised as it
    emergencies_found: int
    emergencies: int
    false_emergencies: int  # utterances that are not emergencies but were answered as one
    errors: tuple[tuple[str, str, str], ...]  # (expected, predicted, utterance), for the developer only

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def predicted(matcher: IntentMatcher, text: str) -> str:
    """The intent the dialogue acts on: the first in priority order, or none."""
    found = matcher.match(text).intents
    return found[0] if found else NEGATIVE


def evaluate_intents(matcher: IntentMatcher, eval_dir: Path) -> list[IntentScores]:
    scores = []
    for path in sorted(eval_dir.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        language = str(data.get("language", path.stem))
        hits: dict[str, list[bool]] = {}
        errors = []
        false_emergencies = 0
        for label, utterances in data["utterances"].items():
            label = {"True": "yes", "False": "no"}.get(str(label), str(label))
            for text in utterances:
                guess = predicted(matcher, str(text))
                hits.setdefault(label, []).append(guess == label)
                if guess != label:
                    errors.append((label, guess, str(text)))
                if guess == "emergency" and label != "emergency":
                    false_emergencies += 1
        emergencies = hits.get("emergency", [])
        scores.append(IntentScores(
            language, sum(len(v) for v in hits.values()), sum(sum(v) for v in hits.values()),
            {label: sum(v) / len(v) for label, v in hits.items() if v}, sum(emergencies), len(emergencies),
            false_emergencies, tuple(errors),
        ))
    return scores


def table(scores: list[IntentScores]) -> str:
    intents = sorted({label for s in scores for label in s.recall})
    head = f"{'lang':5}{'acc':>7}{'emerg':>8}{'false':>6}" + "".join(f"{i[:7]:>8}" for i in intents)
    rows = [head]
    for s in scores:
        rows.append(f"{s.language:5}{s.accuracy:7.1%}{s.emergencies_found:>4}/{s.emergencies:<3}{s.false_emergencies:>6}"
                    + "".join(f"{s.recall.get(i, 0):8.0%}" for i in intents))
    return "\n".join(rows)
