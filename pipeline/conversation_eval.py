"""How well the hotline keeps and switches a call's language, on the evaluation sets in knowledge/eval/.

- `evaluate_conversations`: multi-turn conversations (`conversations/*.yaml`) run through the real dialogue;
  per turn the language, and the topic or intent, must be right.
- `evaluate_languages`: every question of `questions/<lang>.yaml` and `unanswerable/<lang>.yaml` as a call's
  first utterance, and again after a turn in another language (does it switch?).

    hotline eval --part conversations [--misses]
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from pipeline.dialogue import Conversation, Dialogue
from pipeline.language import LanguageIdentifier, next_language

# Inside opening hours, so a request for staff is a transfer as the conversations expect.
WEEKDAY_MORNING = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))


@dataclass
class Tally:
    right: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.right += ok
        self.total += 1

    @property
    def rate(self) -> float:
        return self.right / self.total if self.total else 1.0

    def __str__(self) -> str:
        return f"{100 * self.rate:5.1f} % ({self.right}/{self.total})"


@dataclass
class ConversationScores:
    language: Tally = field(default_factory=Tally)  # turns answered in the expected language
    understood: Tally = field(default_factory=Tally)  # turns with the expected topic or intent
    conversations: Tally = field(default_factory=Tally)  # conversations with every turn fully right
    language_by_expected: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    misses: list[str] = field(default_factory=list)  # "name / turn: what went wrong" (no caller text)


@dataclass
class LanguageScores:
    first: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))  # as a call's first utterance
    switched: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))  # after another language
    misses: list[tuple[str, str, str]] = field(default_factory=list)  # (expected, chosen, text)


def load_conversations(eval_dir: Path) -> list[dict]:
    conversations = []
    for path in sorted((eval_dir / "conversations").glob("*.yaml")):
        conversations += (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("conversations", [])
    return conversations


def load_language_texts(eval_dir: Path) -> list[tuple[str, str]]:
    """(language, text) for every answerable and unanswerable evaluation question; the language is the file's."""
    texts = []
    for folder in ("questions", "unanswerable"):
        for path in sorted((eval_dir / folder).glob("*.yaml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            language = str(data.get("language", path.stem))
            for row in data.get("questions", []):
                texts.append((language, str(row["text"] if isinstance(row, dict) else row)))
    return texts


def evaluate_conversations(dialogue: Dialogue, eval_dir: Path, at: datetime = WEEKDAY_MORNING) -> ConversationScores:
    scores = ConversationScores()
    for conversation_data in load_conversations(eval_dir):
        conversation = Conversation()
        all_right = True
        for number, turn in enumerate(conversation_data["turns"], 1):
            reply = dialogue.respond(conversation, str(turn["text"]), at)
            expected = str(turn["language"])
            language_ok = reply.language == expected
            scores.language.add(language_ok)
            scores.language_by_expected[expected].add(language_ok)
            if "intent" in turn:
                understood = reply.intent == str(turn["intent"])
                wanted, got = f"intent {turn['intent']}", f"intent {reply.intent} topic {reply.topic}"
            else:
                understood = reply.topic == turn.get("topic") and reply.action in ("answer", "clarify")
                wanted, got = f"topic {turn.get('topic')}", f"{reply.action} {reply.topic} intent {reply.intent}"
            scores.understood.add(understood)
            if not (language_ok and understood):
                all_right = False
                scores.misses.append(f"{conversation_data['name']} / turn {number}: wanted {expected} {wanted}, "
                                     f"got {reply.language} {got}")
        scores.conversations.add(all_right)
    return scores


def evaluate_languages(identifier: LanguageIdentifier, eval_dir: Path, fallback: str = "de") -> LanguageScores:
    """Each question as the first utterance, and as the next one in a call held in every other served language."""
    scores = LanguageScores()
    for expected, text in load_language_texts(eval_dir):
        guess = identifier.identify(text)
        chosen = next_language(None, guess, text, fallback)
        scores.first[expected].add(chosen == expected)
        if chosen != expected:
            scores.misses.append((expected, chosen, text))
        for current in identifier.served:
            if current != expected:
                scores.switched[expected].add(next_language(current, guess, text, fallback) == expected)
    return scores
