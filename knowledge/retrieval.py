"""Finding the topic for a question: BM25 and e5 retrieval joined by reciprocal rank fusion (Haystack).

>>> kb = KnowledgeBase.open(topics_dir, index_dir, languages)
>>> match = kb.search("Wie viel muss ich für die Blaue Karte verdienen?")
>>> match.best.topic.id, round(match.best.confidence, 2)
('blue-card', 0.9)
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from haystack import Document, Pipeline, component, default_from_dict, default_to_dict
from haystack.components.joiners import DocumentJoiner
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
from haystack.document_stores.in_memory import InMemoryDocumentStore

from knowledge.classifier import TopicClassifier
from knowledge.embedder import E5TextEmbedder
from knowledge.index import BM25_ALGORITHM, IndexStore, build_index
from knowledge.places import Gazetteer, PlaceMention, mask
from knowledge.topics import Topic, content_digest, load_topics

CANDIDATES = 30  # documents BM25 contributes to the fusion
DENSE_CANDIDATES = 150  # the dense side needs more: a topic's evidence is spread over many documents


@dataclass(frozen=True)
class TopicHit:
    topic: Topic
    confidence: float  # 0..1, see TopicRanker
    similarity: float  # best e5 cosine between the question and the topic's documents
    fused_score: float
    probability: float = 0.0  # the topic classifier's, 0 without one


@dataclass(frozen=True)
class Match:
    question: str
    hits: tuple[TopicHit, ...] = field(default_factory=tuple)
    places: tuple[PlaceMention, ...] = ()  # places in Mittelhessen the question names

    @property
    def best(self) -> TopicHit | None:
        return self.hits[0] if self.hits else None


@component
class TopicRanker:
    """Folds document rankings into a topic ranking with a confidence.

    A topic is supported by several documents (its example questions, answer and detail sentences in ten
    languages). Its dense evidence is a soft maximum (log-sum-exp at `temperature`) over their e5 cosines,
    so a topic matched by several paraphrases beats one matched by a single lucky sentence. That ranking is
    fused with the topics' order in the RRF-joined list (BM25 and dense), weighted `fused_weight`.

    Fused scores are not comparable across questions, so the confidence comes from the cosine of the top
    topic's best document, mapped linearly from `floor` (unrelated) to `ceiling` (a paraphrase), and is
    reduced when the runner-up topic is nearly as strong (an ambiguous question).

    With a `TopicClassifier` (trained on the example questions), its probability for each topic is added to the
    ranking score (`classifier_weight`, in the units of the rank fusion: 1/60 for a first place) and mixed into
    the confidence (`probability_weight`): measured on the evaluation set, it moves top-1 from 0.90 to 0.93 and
    lets the same share of questions be answered with fewer confident answers to unanswerable questions.
    """

    def __init__(self, floor: float = 0.84, ceiling: float = 0.92, margin: float = 0.02,
                 temperature: float = 0.02, fused_weight: float = 0.2, classifier_weight: float = 0.005,
                 probability_weight: float = 0.3, classifier: TopicClassifier | None = None) -> None:
        self.floor, self.ceiling, self.margin = floor, ceiling, margin
        self.temperature, self.fused_weight = temperature, fused_weight
        self.classifier_weight, self.probability_weight = classifier_weight, probability_weight
        self.classifier = classifier

    @component.output_types(topics=list[dict])
    def run(self, documents: list[Document], dense_documents: list[Document],
            query_embedding: list[float] | None = None) -> dict[str, Any]:
        cosines: dict[str, list[float]] = {}
        for document in dense_documents:
            cosines.setdefault(document.meta["topic"], []).append(float(document.score or 0.0))
        soft = {t: self.temperature * math.log(sum(math.exp(c / self.temperature) for c in cs))
                for t, cs in cosines.items()}
        fused_order = list(dict.fromkeys(d.meta["topic"] for d in documents))
        dense_order = sorted(soft, key=soft.__getitem__, reverse=True)
        score: dict[str, float] = {}
        for weight, order in ((1 - self.fused_weight, dense_order), (self.fused_weight, fused_order)):
            for rank, topic in enumerate(order):
                score[topic] = score.get(topic, 0.0) + weight / (60 + rank)
        probability: dict[str, float] = {}
        if self.classifier is not None and query_embedding is not None:
            probability = self.classifier.probabilities(query_embedding)
            for topic, p in probability.items():
                if topic in score or p >= 0.05:  # a topic the classifier is sure of, though no document came up
                    score[topic] = score.get(topic, 0.0) + self.classifier_weight * p
        ranked = sorted(score, key=score.__getitem__, reverse=True)
        topics = []
        for rank, topic in enumerate(ranked):
            similarity = max(cosines.get(topic, [0.0]))
            confidence = (similarity - self.floor) / (self.ceiling - self.floor)
            if rank == 0 and len(ranked) > 1:
                gap = soft.get(topic, 0.0) - max(soft.get(t, 0.0) for t in ranked[1:])
                if gap < self.margin:
                    confidence -= (self.margin - gap) / self.margin * 0.25
            confidence = min(1.0, max(0.0, confidence))
            if probability:
                mix = self.probability_weight
                confidence = (1 - mix) * confidence + mix * probability.get(topic, 0.0)
            topics.append({"topic": topic, "confidence": confidence,
                           "similarity": similarity, "fused_score": score[topic],
                           "probability": probability.get(topic, 0.0)})
        return {"topics": topics}

    def to_dict(self) -> dict[str, Any]:
        # The classifier is data of the index, not of the pipeline: it is attached again when the index loads.
        return default_to_dict(self, floor=self.floor, ceiling=self.ceiling, margin=self.margin,
                               temperature=self.temperature, fused_weight=self.fused_weight,
                               classifier_weight=self.classifier_weight,
                               probability_weight=self.probability_weight)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TopicRanker:
        return default_from_dict(cls, data)


@component
class MatrixEmbeddingRetriever:
    """Dense retrieval over the store's embeddings as one matrix product.

    Haystack's in-memory embedding retriever scores documents one by one (about 150 ms for 5,000 documents on
    this hardware); a caller is waiting, so the scores come from a single numpy product (a few ms).
    """

    def __init__(self, document_store: InMemoryDocumentStore, top_k: int = DENSE_CANDIDATES) -> None:
        self.document_store = document_store
        self.top_k = top_k
        documents = [d for d in document_store.filter_documents() if d.embedding is not None]
        self._matrix = np.asarray([d.embedding for d in documents], dtype=np.float32)
        # Results go without their vectors: Haystack's pipeline deep-copies what passes between components,
        # and 150 vectors of 384 floats made that copying most of a search's time.
        self._documents = [replace(d, embedding=None) for d in documents]

    @component.output_types(documents=list[Document])
    def run(self, query_embedding: list[float], top_k: int | None = None) -> dict[str, Any]:
        if not self._documents:
            return {"documents": []}
        scores = self._matrix @ np.asarray(query_embedding, dtype=np.float32)
        k = min(top_k or self.top_k, len(scores))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best])]
        return {"documents": [replace(self._documents[i], score=float(scores[i])) for i in best]}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, top_k=self.top_k)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MatrixEmbeddingRetriever:
        raise NotImplementedError("needs a live document store: build it with build_retrieval_pipeline()")


def build_retrieval_pipeline(store: InMemoryDocumentStore, candidates: int = CANDIDATES,
                             classifier: TopicClassifier | None = None) -> Pipeline:
    """question ─┬─ BM25 ──────────────────┐
                 └─ e5 embedder ─ dense ───┴─ RRF joiner ─ topic ranker (+ dense scores for confidence)"""
    pipeline = Pipeline()
    pipeline.add_component("bm25", InMemoryBM25Retriever(_without_vectors(store), top_k=candidates))
    pipeline.add_component("embedder", E5TextEmbedder())
    pipeline.add_component("dense", MatrixEmbeddingRetriever(store, top_k=DENSE_CANDIDATES))
    pipeline.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=DENSE_CANDIDATES))
    pipeline.add_component("ranker", TopicRanker(classifier=classifier))
    pipeline.connect("embedder.embedding", "dense.query_embedding")
    pipeline.connect("bm25.documents", "joiner.documents")
    pipeline.connect("dense.documents", "joiner.documents")
    pipeline.connect("joiner.documents", "ranker.documents")
    pipeline.connect("dense.documents", "ranker.dense_documents")
    pipeline.connect("embedder.embedding", "ranker.query_embedding")
    return pipeline


class LexicalStore(InMemoryDocumentStore):
    """The in-memory store BM25 searches, with the one filter a search uses (the caller's language) answered
    from a per-language list: Haystack's generic filter matching over ~5,000 documents took ~40 ms a search.
    BM25's statistics stay those of the whole store, so the scores are unchanged."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._by_language: dict[str, list[Document]] | None = None

    def write_documents(self, *args: Any, **kwargs: Any) -> int:
        self._by_language = None
        return super().write_documents(*args, **kwargs)

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        language = _language_only(filters)
        if language is None:
            return super().filter_documents(filters)
        if self._by_language is None:
            by_language: dict[str, list[Document]] = {}
            for doc in self.storage.values():
                if doc.content is not None:
                    by_language.setdefault(str((doc.meta or {}).get("lang")), []).append(doc)
            self._by_language = by_language
        return list(self._by_language.get(language, []))


def _language_only(filters: dict[str, Any] | None) -> str | None:
    """The language when `filters` is exactly what BM25 retrieval builds for a language filter, else None."""
    if not filters or filters.get("operator") != "AND" or len(filters.get("conditions", [])) != 2:
        return None
    content, lang = filters["conditions"]
    if content != {"field": "content", "operator": "!=", "value": None}:
        return None
    if lang.get("field") != "meta.lang" or lang.get("operator") != "==" or not isinstance(lang.get("value"), str):
        return None
    return lang["value"]


def _without_vectors(store: InMemoryDocumentStore) -> InMemoryDocumentStore:
    """The same documents for BM25 (same statistics, same scores), without the vectors it never reads."""
    lexical = LexicalStore(bm25_algorithm=BM25_ALGORITHM, shared=False)
    lexical.write_documents([replace(d, embedding=None) for d in store.filter_documents()])
    return lexical


class KnowledgeBase:
    """The topics and their retrieval pipeline. Open it once per process; `search` is thread-safe."""

    def __init__(self, topics: Iterable[Topic], store: InMemoryDocumentStore,
                 classifier: TopicClassifier | None = None, gazetteer: Gazetteer | None = None) -> None:
        self.topics = {topic.id: topic for topic in topics}
        self.classifier = classifier
        self.gazetteer = gazetteer
        self.pipeline = build_retrieval_pipeline(store, classifier=classifier)
        self.pipeline.warm_up()
        # A live call searches for the caller's words while they pause (speculatively); when the pause turns
        # out to end the turn, the same search is asked again and answered from here.
        self._recent: OrderedDict[tuple[str, int, str | None], Match] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls, topics_dir: Path, index_dir: Path, languages: Iterable[str], rebuild_if_stale: bool = True
    ) -> KnowledgeBase:
        """Load the persisted index; rebuild it first if the topic files changed since it was built."""
        languages = tuple(languages)
        index = IndexStore(index_dir)
        if not index.is_current(content_digest(topics_dir)):
            if not rebuild_if_stale:
                raise RuntimeError(f"the knowledge index in {index_dir} is missing or stale: run `hotline ingest`")
            build_index(topics_dir, languages, index)
        store = index.load()
        places = topics_dir.parent / "places.yaml"
        gazetteer = Gazetteer.from_file(places) if places.exists() else None
        return cls(load_topics(topics_dir, languages), store, topic_classifier(index, store), gazetteer)

    def search(self, question: str, top_k: int = 5, language: str | None = None,
               exclude: frozenset[str] = frozenset()) -> Match:
        """Rank topics for `question`. With `language`, BM25 looks only at that language's documents (words
        of other languages are noise to it); the dense side always searches every language. Topics in
        `exclude` are dropped from the hits (a caller who says "not an emergency" is not sent to 112)."""
        if exclude:
            match = self.search(question, top_k + len(exclude), language)
            return Match(match.question, tuple(h for h in match.hits if h.topic.id not in exclude)[:top_k], match.places)
        text = question.strip()
        if not text:
            return Match(question)
        key = (text, top_k, language)
        with self._lock:
            if key in self._recent:
                self._recent.move_to_end(key)
                return self._recent[key]
        match = self._search(text, top_k, language)
        with self._lock:
            self._recent[key] = match
            while len(self._recent) > 256:
                self._recent.popitem(last=False)
        return match

    def _search(self, text: str, top_k: int, language: str | None) -> Match:
        places = self.gazetteer.find(text) if self.gazetteer else ()
        # A town's name must not pull the topic ("I moved to Herborn, how do I register?"): search without it,
        # then, if the question is about the foreigners' office, the named place's district decides which.
        asked = mask(text, places) or text
        match = self._ranked(asked, top_k, language)
        districts = {p.topic for p in places}
        if len(districts) != 1 or not match.hits or match.hits[0].topic.id not in self.gazetteer.office_topics:
            return Match(text, match.hits, places)
        office = districts.pop()
        best = match.hits[0]
        placed = next((h for h in match.hits if h.topic.id == office), None)
        # Without the town's name the question is shorter and less sure; the office's confidence on the whole
        # question counts too.
        whole = next((h.confidence for h in self._ranked(text, top_k, language).hits if h.topic.id == office), 0.0)
        first = replace(placed or best, topic=self.topics[office], confidence=max(best.confidence, whole,
                        placed.confidence if placed else 0.0))
        return Match(text, (first, *(h for h in match.hits if h.topic.id != office))[:top_k], places)

    def _ranked(self, text: str, top_k: int, language: str | None) -> Match:
        bm25: dict[str, Any] = {"query": text}
        if language:
            bm25["filters"] = {"field": "meta.lang", "operator": "==", "value": language}
        result = self.pipeline.run({"bm25": bm25, "embedder": {"text": text}})
        hits = tuple(
            TopicHit(self.topics[row["topic"]], row["confidence"], row["similarity"], row["fused_score"],
                     row["probability"])
            for row in result["ranker"]["topics"][:top_k]
        )
        return Match(text, hits)


def topic_classifier(index: IndexStore, store: InMemoryDocumentStore) -> TopicClassifier:
    """The classifier kept with the index, trained now (and kept) when it is missing or from another build."""
    manifest = index.manifest()
    digest = f"{manifest.digest}/{manifest.built_at}" if manifest else ""
    path = index.directory / "classifier.npz"
    classifier = TopicClassifier.load(path)
    if classifier is not None and classifier.digest == digest:
        return classifier
    questions = [d for d in store.filter_documents() if d.meta.get("kind") == "question" and d.embedding is not None]
    classifier = TopicClassifier.train(np.asarray([d.embedding for d in questions]),
                                       [d.meta["topic"] for d in questions], digest)
    try:
        classifier.save(path)
    except OSError:  # a read-only index folder: train again next start
        pass
    return classifier
