"""What the caller wants besides a topic: staff, an emergency, a repeat, details, thanks, goodbye, a language.

Two layers. Rules: the phrases and word stems of `config/intents.yaml`, for the short, high-stakes words.
Meaning: nearest neighbours among the example utterances of `config/intent_examples/<lang>.yaml` (and the
knowledge base's own example questions as `none`), with the e5 vector the turn computes anyway for retrieval.

>>> matcher = IntentMatcher.from_file(config / "intents.yaml", served, config / "intent_examples")
>>> matcher.match("dla karetki, szybko").intents
('emergency',)
"""

from __future__ import annotations

import hashlib
import json
import logging
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import yaml

log = logging.getLogger(__name__)

# Checked in this order: an emergency is answered before anything else.
INTENTS = ("emergency", "human", "goodbye", "thanks", "repeat", "details", "yes", "no")
# Small talk only counts in a short utterance: "thanks, and how do I register?" is a question.
SHORT_INTENTS = frozenset({"goodbye", "thanks", "repeat", "details", "yes", "no"})
SHORT_WORDS = 6
# The classes of the example files: the intents, the caller saying it is not an emergency, and none.
CLASSES = (*INTENTS, "not_emergency", "none")
NEIGHBOURS = 3  # a class's score: the mean similarity of its three nearest examples
CACHE_VERSION = "1"


class QueryModel(Protocol):
    variant: str

    def query(self, text: str) -> np.ndarray: ...

    def embed(self, texts: list[str], as_query: bool) -> np.ndarray: ...


def normalise(text: str) -> str:
    """Lowercase, punctuation to spaces, one space between words, padded so phrases match whole words."""
    kept = []
    for char in text.lower():
        category = unicodedata.category(char)
        kept.append(" " if category[0] in "PSZC" else char)
    return " " + " ".join("".join(kept).split()) + " "


@dataclass(frozen=True)
class IntentMatch:
    intents: tuple[str, ...]  # in priority order
    switch_to: str | None  # a served language the caller asked for
    not_emergency: bool = False  # the caller said it is not an emergency ("not urgent, but ...")


@dataclass(frozen=True)
class Examples:
    """Labelled example utterances, all languages together."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]

    @classmethod
    def load(cls, examples_dir: Path | None, served: Iterable[str], negatives: Iterable[str] = ()) -> Examples:
        texts: list[str] = []
        labels: list[str] = []
        for lang in served:
            path = examples_dir / f"{lang}.yaml" if examples_dir else None
            if not path or not path.exists():
                continue  # that language has its phrases and the other languages' examples (e5 is cross-lingual)
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for label, utterances in (data.get("examples") or {}).items():
                label = str(label).lower()  # an unquoted yes/no key is read as a boolean by YAML 1.1
                label = {"true": "yes", "false": "no"}.get(label, label)
                if label not in CLASSES:
                    raise ValueError(f"{path}: unknown class {label!r}; allowed: {', '.join(CLASSES)}")
                for text in utterances or ():
                    texts.append(str(text))
                    labels.append(label)
        for text in negatives:
            texts.append(text)
            labels.append("none")
        return cls(tuple(texts), tuple(labels))

    def digest(self, variant: str) -> str:
        payload = json.dumps([CACHE_VERSION, variant, self.texts, self.labels], ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Thresholds:
    """Per class: the least score to accept it, and the least lead over the runner-up class."""

    similarity: dict[str, float]
    margin: dict[str, float]


class NeighbourClassifier:
    """kNN over unit vectors: one matrix product per utterance."""

    def __init__(self, vectors: np.ndarray, labels: tuple[str, ...], thresholds: Thresholds | None = None) -> None:
        self.vectors = _unit(vectors.astype(np.float32))
        self.labels = labels
        self.classes = tuple(c for c in CLASSES if c in set(labels))
        self._members = [np.flatnonzero(np.array([lab == c for lab in labels])) for c in self.classes]
        self.thresholds = thresholds or tune(self)

    def scores(self, vector: np.ndarray, leave_out: int | None = None) -> np.ndarray:
        similarities = self.vectors @ vector
        if leave_out is not None:
            similarities[leave_out] = -1.0
        return np.array([_top_mean(similarities[m]) for m in self._members])

    def classify(self, vector: np.ndarray) -> tuple[str, float]:
        """The best class if it passes its thresholds (else "none"), and its score."""
        return self.decide(self.scores(_unit(vector)))

    def decide(self, scores: np.ndarray, thresholds: Thresholds | None = None) -> tuple[str, float]:
        thresholds = thresholds or self.thresholds
        order = np.argsort(scores)[::-1]
        best, score = self.classes[order[0]], float(scores[order[0]])
        lead = score - float(scores[order[1]]) if len(order) > 1 else 1.0
        if best == "none":
            return best, score
        if score < thresholds.similarity.get(best, 1.0) or lead < thresholds.margin.get(best, 0.0):
            return "none", score
        return best, score


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-9)


def _top_mean(similarities: np.ndarray) -> float:
    if similarities.size == 0:
        return -1.0
    k = min(NEIGHBOURS, similarities.size)
    return float(np.partition(similarities, similarities.size - k)[-k:].mean())


def tune(classifier: NeighbourClassifier) -> Thresholds:
    """Leave-one-out over the examples: per class, the thresholds that accept most of the class's own examples
    and fewest of the others. Missing an emergency costs more than a false alarm; small talk the other way."""
    loo = np.array([classifier.scores(v, leave_out=i) for i, v in enumerate(classifier.vectors)])
    best_index = loo.argmax(axis=1)
    top = loo.max(axis=1)
    second = np.sort(loo, axis=1)[:, -2] if loo.shape[1] > 1 else np.zeros(len(loo))
    lead = top - second
    truth = np.array(classifier.labels)
    similarity: dict[str, float] = {}
    margin: dict[str, float] = {}
    for index, cls in enumerate(classifier.classes):
        if cls == "none":
            continue
        chosen = best_index == index
        own = truth == cls
        miss_cost = 3.0 if cls in ("emergency", "not_emergency") else 1.0
        false_cost = 1.0 if cls in ("emergency", "not_emergency") else 2.0
        best = (float("inf"), 0.0, 0.0)
        for s in np.arange(0.78, 0.95, 0.005):
            for m in (0.0, 0.005, 0.01, 0.02, 0.03):
                accepted = chosen & (top >= s) & (lead >= m)
                cost = miss_cost * np.sum(own & ~accepted) + false_cost * np.sum(~own & accepted)
                if cost < best[0]:
                    best = (cost, float(s), m)
        similarity[cls], margin[cls] = round(best[1], 3), best[2]
    return Thresholds(similarity, margin)


class IntentMatcher:
    """Rules (phrases and stems, whole words) and meaning (kNN over examples), in every served language at once."""

    def __init__(self, phrases: dict[str, dict[str, list[str]]], language_names: dict[str, list[str]],
                 switch_markers: dict[str, list[str]], served: tuple[str, ...],
                 stems: dict[str, dict[str, list[str]]] | None = None, negation: dict[str, list[str]] | None = None,
                 classifier: NeighbourClassifier | None = None, model: QueryModel | None = None) -> None:
        self._phrases = {
            intent: [normalise(p) for lang in served for p in phrases.get(intent, {}).get(lang, [])]
            for intent in INTENTS
        }
        # A stem matches the start of a word: "karetk" finds "karetki", "karetkę", "karetką".
        self._stems = {
            intent: [normalise(s).rstrip() for lang in served for s in (stems or {}).get(intent, {}).get(lang, [])]
            for intent in INTENTS
        }
        self._negation = [normalise(n) for lang in served for n in (negation or {}).get(lang, [])]
        self._names = {lang: [normalise(n) for n in language_names.get(lang, [])] for lang in served}
        self._markers = [normalise(m) for lang in served for m in switch_markers.get(lang, [])]
        self.classifier = classifier
        self.model = model

    @classmethod
    def from_file(cls, path: Path, served: tuple[str, ...], examples_dir: Path | None = None,
                  negatives: Iterable[str] = (), cache_dir: Path | None = None,
                  model: QueryModel | None = None) -> IntentMatcher:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        missing = [key for key in ("intents", "language_names", "switch_markers") if key not in data]
        if missing:
            raise ValueError(f"{path}: missing section(s) {missing}")
        classifier = None
        examples = Examples.load(examples_dir, served, negatives) if examples_dir else None
        if examples and examples.texts:
            if model is None:
                from knowledge.embedder import shared_model

                model = shared_model()
            classifier = _load_classifier(examples, model, cache_dir)
        return cls(data["intents"], data["language_names"], data["switch_markers"], served,
                   data.get("stems"), data.get("negation"), classifier, model)

    def match(self, text: str) -> IntentMatch:
        padded = normalise(text)
        words = len(padded.split())
        ruled = {intent for intent in INTENTS if self._ruled(intent, padded)}
        meant, not_emergency = None, any(n in padded for n in self._negation)
        if self.classifier is not None and self.model is not None and text.strip():
            meant, _ = self.classifier.classify(self.model.query(text.strip()))
            not_emergency = not_emergency or meant == "not_emergency"
        found = ruled | ({meant} if meant in INTENTS else set())
        if not_emergency:
            found.discard("emergency")
        if words > SHORT_WORDS:
            found -= SHORT_INTENTS
        ordered = tuple(intent for intent in INTENTS if intent in found)
        return IntentMatch(ordered, self._requested_language(padded, words), not_emergency)

    def _ruled(self, intent: str, padded: str) -> bool:
        return any(p in padded for p in self._phrases[intent]) or any(s in padded for s in self._stems[intent])

    def _requested_language(self, padded: str, words: int) -> str | None:
        """A real request only: a bare language name ("English?"), or a name with a speak/please/continue word.
        A language named in passing ("...my German course in Gießen") is no request."""
        named = [lang for lang, names in self._names.items() if any(name in padded for name in names)]
        if len(named) != 1 or words > 8:
            return None
        if words <= 3 or any(marker in padded for marker in self._markers):
            return named[0]
        return None


def _load_classifier(examples: Examples, model: QueryModel, cache_dir: Path | None) -> NeighbourClassifier:
    """Example vectors and tuned thresholds, from cache_dir/intents when the examples have not changed."""
    digest = examples.digest(model.variant)
    path = cache_dir / "intents" / f"{digest}.npz" if cache_dir else None
    if path and path.exists():
        try:
            with np.load(path) as stored:
                tuned = json.loads(str(stored["thresholds"]))
                return NeighbourClassifier(stored["vectors"], examples.labels,
                                           Thresholds(tuned["similarity"], tuned["margin"]))
        except (OSError, ValueError, KeyError):
            log.warning("intent cache %s unreadable; embedding the examples again", path)
    vectors = np.concatenate([model.embed(list(examples.texts[i:i + 64]), as_query=True)
                              for i in range(0, len(examples.texts), 64)])
    classifier = NeighbourClassifier(vectors, examples.labels)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tuned = {"similarity": classifier.thresholds.similarity, "margin": classifier.thresholds.margin}
        temporary = path.with_suffix(".tmp.npz")
        np.savez(temporary, vectors=vectors, thresholds=np.array(json.dumps(tuned)))
        temporary.replace(path)
    return classifier
