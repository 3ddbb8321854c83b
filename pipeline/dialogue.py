"""One conversation's decisions: language, intents, retrieval, and what to say (answer, clarify, transfer...).

The same `Dialogue` serves `hotline ask`, `hotline call`, the phone and the widget; each call keeps its own
`Conversation` state.

>>> dialogue = Dialogue.from_settings(settings, knowledge_base)
>>> reply = dialogue.respond(Conversation(), "Wo muss ich mich anmelden?", at=now)
>>> reply.action, reply.language
('answer', 'de')
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from knowledge.loanwords import loanwords
from knowledge.retrieval import KnowledgeBase, Match
from knowledge.topics import Source, Topic
from knowledge.vocabulary import own_words
from pipeline.config import PipelineSettings
from pipeline.intents import IntentMatcher
from pipeline.language import LanguageGuess, LanguageIdentifier, next_language
from pipeline.opening_hours import OpeningHours
from pipeline.phrases import Phrases

ACTIONS = ("answer", "clarify", "transfer", "closed", "goodbye")
EMERGENCY_TOPIC = "emergency-numbers"
_URL = re.compile(r"\s*\(?https?://\S+|\s*\(?www\.\S+")


@dataclass(frozen=True)
class Reply:
    language: str
    action: str
    answer: str = field(repr=False)  # exactly the text to speak (never in a repr: reprs reach logs)
    topic: str | None = None
    sources: tuple[Source, ...] = ()
    confidence: float = 0.0
    intent: str | None = None
    details: str = field(default="", repr=False)
    question: str = field(default="", repr=False)
    timings_ms: dict[str, float] = field(default_factory=dict)
    options: tuple[str, ...] = ()  # a choice question: the topics offered, in the order they were named

    @property
    def unanswered(self) -> bool:
        """The hotline could not help with a question (a knowledge gap for staff to see)."""
        return self.action == "clarify" and self.intent is None and bool(self.question)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["sources"] = [{"title": s.title, "url": s.url} for s in self.sources]
        data["confidence"] = round(self.confidence, 3)
        data["timings_ms"] = {k: round(v, 1) for k, v in self.timings_ms.items()}
        data["unanswered"] = self.unanswered
        return data


@dataclass
class Conversation:
    """What the dialogue remembers within one call."""

    language: str | None = None
    forced_language: bool = False  # chosen by key press or selector
    requested_language: str | None = None  # asked for by voice ("can we speak Polish?")
    last: Reply | None = None
    turns: int = 0
    options: tuple[str, ...] = ()  # the topics of the choice question just asked, if any

    @classmethod
    def in_language(cls, language: str | None) -> Conversation:
        return cls(language=language, forced_language=language is not None)


class Dialogue:
    def __init__(
        self,
        settings: PipelineSettings,
        knowledge: KnowledgeBase,
        hours: OpeningHours,
        phrases: Phrases,
        intents: IntentMatcher,
        identifier: LanguageIdentifier,
    ) -> None:
        self.settings = settings
        self.knowledge = knowledge
        self.hours = hours
        self.phrases = phrases
        self.intents = intents
        self.identifier = identifier
        self.served = settings.languages

    @classmethod
    def from_settings(cls, settings: PipelineSettings, knowledge: KnowledgeBase) -> Dialogue:
        config = settings.root / "config"
        served = settings.languages
        return cls(
            settings,
            knowledge,
            OpeningHours.from_config(settings.opening_hours),
            Phrases.from_file(config / "phrases.yaml", served),
            IntentMatcher.from_file(config / "intents.yaml", served, config / "intent_examples",
                                    negatives=_example_questions(knowledge), cache_dir=settings.cache_dir),
            LanguageIdentifier(served, loanwords(knowledge.topics.values()), own_words(knowledge.topics.values())),
        )

    # --- the turn -------------------------------------------------------------------------------------
    def respond(
        self, conversation: Conversation, text: str, at: datetime, spoken: dict[str, float] | None = None
    ) -> Reply:
        started = time.perf_counter()
        question = clean_question(text, self.settings.knowledge.max_question_chars)
        reply = self._decide(conversation, question, at, spoken)
        reply.timings_ms["dialogue"] = (time.perf_counter() - started) * 1000
        conversation.language = reply.language
        conversation.turns += 1
        conversation.options = reply.options
        if reply.intent not in ("repeat", "details"):
            conversation.last = reply
        return reply

    def _decide(self, conversation: Conversation, question: str, at: datetime, spoken: dict[str, float] | None) -> Reply:
        fallback = conversation.language or self.settings.default_language
        if not question:
            return Reply(fallback, "clarify", self.phrases.say(fallback, "clarify_empty"), intent="empty")
        guess = self.identifier.identify(question, spoken)
        language = self.next_language(conversation, guess, question)
        intents = self.intents.match(question)
        if "emergency" in intents.intents:
            return self._emergency(language, question)
        if intents.switch_to and intents.switch_to != conversation.language:
            conversation.requested_language = intents.switch_to
            return Reply(intents.switch_to, "answer", self.phrases.say(intents.switch_to, "language_switched"),
                         intent="switch_language", question=question)
        if conversation.options:
            chosen = self._chosen(conversation.options, question, language, intents.intents)
            if chosen:
                return self.answer(self.knowledge.topics[chosen], language, 1.0, question, {})
            if "no" in intents.intents and len(normalised_words(question)) <= 4:
                # "No" to "Do you mean ...?": the caller is asked to say it in other words, nothing is answered.
                return Reply(language, "clarify", self.phrases.say(language, "clarify_low"), intent="no",
                             question=question)
        for intent in intents.intents:
            reply = self._small_talk(intent, conversation, language, question, at)
            if reply:
                return reply
        if not conversation.forced_language and guess.unserved and (conversation.language is None):
            return self._unserved(question, guess)
        # "Not an emergency, but ...": the caller wants the on-call service or a doctor, not 112.
        return self._retrieve(language, question, frozenset({EMERGENCY_TOPIC}) if intents.not_emergency else frozenset())

    def next_language(self, conversation: Conversation, guess: LanguageGuess, text: str) -> str:
        """The language to answer `text` in (see `pipeline.language.next_language`)."""
        requested = conversation.requested_language is not None
        return next_language(conversation.language, guess, text, self.settings.default_language,
                             requested=requested and conversation.requested_language == conversation.language,
                             forced=conversation.forced_language)

    # --- the outcomes ---------------------------------------------------------------------------------
    def _emergency(self, language: str, question: str) -> Reply:
        topic = self.knowledge.topics.get(EMERGENCY_TOPIC)
        return Reply(language, "answer", self.phrases.say(language, "emergency"), topic=topic and topic.id,
                     sources=topic.sources if topic else (), confidence=1.0, intent="emergency", question=question)

    def _small_talk(self, intent: str, conversation: Conversation, language: str, question: str,
                    at: datetime) -> Reply | None:
        say = self.phrases.say
        if intent == "human":
            return self.staff(language, at, question)
        if intent == "goodbye":
            return Reply(language, "goodbye", say(language, "goodbye"), intent=intent, question=question)
        if intent == "thanks":
            return Reply(language, "answer", say(language, "thanks"), intent=intent, question=question)
        last = conversation.last
        if intent == "repeat":
            if last is None:
                return Reply(language, "clarify", say(language, "nothing_to_repeat"), intent=intent, question=question)
            topic = self.knowledge.topics.get(last.topic) if last.topic and last.action == "answer" else None
            if topic and last.language != language and language in topic.answers:
                # "Say that again" in another language: the same answer, in the language asked in.
                again = self.answer(topic, language, last.confidence, question)
                return Reply(language, "answer", again.answer, topic.id, topic.sources, last.confidence,
                             intent=intent, details=again.details, question=question)
            return Reply(last.language, last.action, last.answer, last.topic, last.sources, last.confidence,
                         intent=intent, details=last.details, question=question)
        if intent == "details":
            topic = self.knowledge.topics.get(last.topic) if last and last.topic else None
            details = topic.answers[language].details if topic and language in topic.answers else ""
            if not topic or not details:
                return Reply(language, "clarify", say(language, "no_details"), intent=intent, question=question)
            spoken = _URL.sub("", self.render(details, language)).strip()
            return Reply(language, "answer", spoken, topic.id, topic.sources, 1.0, intent=intent,
                         details=self.render(details, language), question=question)
        return None

    def staff(self, language: str, at: datetime, question: str = "") -> Reply:
        """A request for a person: transfer while open, else when we open next (and a callback)."""
        if self.hours.is_open(at):
            return Reply(language, "transfer", self.phrases.say(language, "transfer"), intent="human",
                         question=question)
        return Reply(language, "closed", self.closed_text(language, at), intent="human", question=question)

    def closed_text(self, language: str, at: datetime) -> str:
        opening = self.hours.next_opening(at)
        local_now = self.hours.local(at)
        when = self.phrases.when(language, opening, local_now) if opening else "?"
        return self.phrases.say(language, "closed", next_opening=when)

    def _unserved(self, question: str, guess: LanguageGuess) -> Reply:
        english = "en" if "en" in self.served else self.settings.default_language
        note = self.phrases.say(english, "unsupported_language",
                                languages=self.phrases.language_names(self.served, english))
        reply = self._retrieve(english, question)
        if reply.action == "answer":
            return Reply(english, "answer", f"{note} {reply.answer}", reply.topic, reply.sources, reply.confidence,
                         intent="unserved_language", details=reply.details, question=question,
                         timings_ms=reply.timings_ms)
        return Reply(english, "clarify", note, intent="unserved_language", question=question,
                     timings_ms=reply.timings_ms)

    def _retrieve(self, language: str, question: str, exclude: frozenset[str] = frozenset()) -> Reply:
        started = time.perf_counter()
        match = self.knowledge.search(question, language=language, exclude=exclude)
        timings = {"retrieval": (time.perf_counter() - started) * 1000}
        return self.reply_for(match, language, timings)

    def reply_for(self, match: Match, language: str, timings: dict[str, float]) -> Reply:
        best = match.best
        thresholds = self.settings.knowledge
        options = self._close_topics(match, language)
        if options:
            first, second = (self.knowledge.topics[t].answers[language].label for t in options)
            return Reply(language, "clarify", self.phrases.say(language, "choose_topic", first=first, second=second),
                         options[0], confidence=best.confidence, intent="choose", question=match.question,
                         timings_ms=timings, options=options)
        if best and best.confidence >= thresholds.answer_threshold:
            return self.answer(best.topic, language, best.confidence, match.question, timings)
        if best and best.confidence >= thresholds.confirm_threshold and best.topic.answers.get(language) and \
                best.topic.answers[language].label:
            label = best.topic.answers[language].label
            return Reply(language, "clarify", self.phrases.say(language, "confirm_topic", first=label), best.topic.id,
                         confidence=best.confidence, intent="choose", question=match.question, timings_ms=timings,
                         options=(best.topic.id,))
        if best and best.confidence >= thresholds.clarify_threshold:
            return Reply(language, "clarify", self.phrases.say(language, "clarify_low"), best.topic.id,
                         confidence=best.confidence, question=match.question, timings_ms=timings)
        return Reply(language, "clarify", self.phrases.say(language, "no_answer"),
                     confidence=best.confidence if best else 0.0, question=match.question, timings_ms=timings)

    def _close_topics(self, match: Match, language: str) -> tuple[str, ...]:
        """The two topics to offer when the question fits both nearly equally (and each has a spoken label)."""
        thresholds = self.settings.knowledge
        if len(match.hits) < 2 or match.hits[0].confidence < thresholds.clarify_threshold:
            return ()
        first, second = match.hits[:2]
        if first.fused_score - second.fused_score >= thresholds.choice_gap:
            return ()
        if second.confidence < thresholds.choice_floor:
            return ()
        if first.confidence >= thresholds.answer_threshold and (
                first.confidence - second.confidence >= thresholds.choice_confidence_gap
                or first.probability - second.probability >= thresholds.choice_probability_lead):
            return ()  # the best fits well and clearly better: answer it
        labelled = all(hit.topic.answers.get(language) and hit.topic.answers[language].label for hit in (first, second))
        return (first.topic.id, second.topic.id) if labelled else ()

    def _chosen(self, options: tuple[str, ...], question: str, language: str,
                intents: tuple[str, ...] = ()) -> str | None:
        """Which offered topic the caller's answer picks: by key or ordinal ("the second"), by naming it, by "yes"
        to a single one, or by asking a question that lands on it. None when the caller moved on to something
        else."""
        words = normalised_words(question)
        if len(options) == 1 and "yes" in intents and "no" not in intents and len(words) <= 4:
            return options[0]
        if len(words) <= 4:
            ordinals = self.phrases.option_words(language)
            said = _ngrams(words)
            for number, (option, spoken) in enumerate(zip(options, ordinals, strict=False), start=1):
                if str(number) in words or any(w in said for w in spoken):
                    return option
        match = self.knowledge.search(question, language=language)
        ranked = [hit.topic.id for hit in match.hits]
        if ranked and ranked[0] in options:
            return ranked[0]
        offered = [t for t in ranked if t in options]
        if offered and len(words) <= 6:
            return offered[0]
        return None

    def answer(self, topic: Topic, language: str, confidence: float, question: str,
               timings: dict[str, float] | None = None) -> Reply:
        localized = topic.answers[language]
        return Reply(language, "answer", self.render(localized.answer, language), topic.id, topic.sources,
                     confidence, details=self.render(localized.details, language), question=question,
                     timings_ms=timings or {})

    def render(self, text: str, language: str) -> str:
        """Fill in the operator's facts from config; they are never written into the topics' prose.

        A value the config still marks as an example (`operator.example_values`) is never said as a fact: its
        sentences are left out and the caller hears that the contact details are not set up yet, with the way
        to staff; an answer that was mostly such sentences becomes that notice alone."""
        if "{" not in text:
            return text
        operator = self.settings.operator
        examples = [f"{{{_PLACEHOLDERS[key]}}}" for key in operator.example_values if key in _PLACEHOLDERS]
        sentences = _SENTENCE_END.split(text.strip())
        kept = [s for s in sentences if not any(placeholder in s for placeholder in examples)]
        if len(kept) < len(sentences):
            notice = self.phrases.say(language, "contact_unconfigured")
            rest = " ".join(kept)
            text = notice if len(rest) < len(text) / 2 else f"{rest} {notice}"
        return text.format(
            operator_name=operator.name, operator_address=operator.address, operator_phone=operator.phone,
            operator_email=operator.email, operator_website=operator.website,
            opening_hours=self.phrases.opening_hours(language, self.hours),
        )


# operator.example_values names -> the topics' placeholders that carry them
_PLACEHOLDERS = {"address": "operator_address", "phone": "operator_phone", "email": "operator_email",
                 "website": "operator_website", "opening_hours": "opening_hours"}
_SENTENCE_END = re.compile(r"(?<=[.!?؟])\s+")


def normalised_words(text: str) -> list[str]:
    """Lowercase words without punctuation: "Die Zweite, bitte." -> ["die", "zweite", "bitte"]."""
    kept = "".join(c if unicodedata.category(c)[0] in "LN" else " " for c in text.lower())
    return kept.split()


def _ngrams(words: list[str]) -> set[str]:
    return {" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, min(len(words), i + 3) + 1)}


def _example_questions(knowledge: KnowledgeBase) -> list[str]:
    """The topics' example questions: questions, so `none` for the intent matcher (they mention doctors, police...).
    The emergency topic's own questions are left out: some of them are emergencies."""
    return [q for topic in knowledge.topics.values() if topic.id != EMERGENCY_TOPIC
            for answer in topic.answers.values() for q in answer.questions]


def clean_question(text: str, limit: int) -> str:
    """Drop control and format characters, collapse whitespace, and cut at `limit` characters (on a word)."""
    visible = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
    words = " ".join(visible.split())
    if len(words) <= limit:
        return words
    cut = words[:limit]
    return cut.rsplit(" ", 1)[0] if " " in cut else cut


def load_dialogue(settings: PipelineSettings, index_dir: Path | None = None) -> Dialogue:
    """Open the knowledge base (rebuilding a stale index) and wire the dialogue for `settings`."""
    knowledge = KnowledgeBase.open(
        settings.path(settings.knowledge.topics_dir),
        index_dir or settings.cache_dir / "index",
        settings.languages,
    )
    return Dialogue.from_settings(settings, knowledge)
