"""Finding the topic for a question: BM25 and e5 retrieval joined by reciprocal rank fusion (Haystack).

>>> kb = KnowledgeBase.open(topics_dir, index_dir, languages)
>>> match = kb.search("Wie viel muss ich für die Blaue Karte verdienen?")
>>> match.best.topic.id, round(match.best.confidence, 2)
('blue-card', 0.9)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from haystack import Document, Pipeline, component
from haystack.components.joiners import DocumentJoiner
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
from haystack.document_stores.in_memory import InMemoryDocumentStore

from knowledge.embedder import E5TextEmbedder
from knowledge.index import IndexStore, build_index
from knowledge.topics import Topic, content_digest, load_topics

CANDIDATES = 30  # documents each retriever contributes to the fusion


@dataclass(frozen=True)
class TopicHit:
    topic: Topic
    confidence: float  # 0..1, see TopicRanker
    similarity: float  # best e5 cosine between the question and the topic's documents
    fused_score: float


@dataclass(frozen=True)
class Match:
    question: str
    hits: tuple[TopicHit, ...] = field(default_factory=tuple)

    @property
    def best(self) -> TopicHit | None:
        return self.hits[0] if self.hits else None


@component
class TopicRanker:
    """Folds fused document rankings into a topic ranking with a confidence.

    The fused (RRF) score orders topics; it is not comparable across questions, so the confidence comes from
    the e5 cosine of the topic's best document, mapped linearly from `floor` (unrelated text) to `ceiling`
    (a paraphrase), and reduced when the runner-up topic is nearly as close (an ambiguous question).
    """

    def __init__(self, floor: float = 0.80, ceiling: float = 0.92, margin: float = 0.02) -> None:
        self.floor, self.ceiling, self.margin = floor, ceiling, margin

    @component.output_types(topics=list[dict])
    def run(self, documents: list[Document], dense_documents: list[Document]) -> dict[str, Any]:
        fused: dict[str, float] = {}
        for document in documents:
            topic = document.meta["topic"]
            fused[topic] = max(fused.get(topic, 0.0), document.score or 0.0)
        cosine: dict[str, float] = {}
        for document in dense_documents:
            topic = document.meta["topic"]
            cosine[topic] = max(cosine.get(topic, -1.0), document.score or 0.0)
        ranked = sorted(fused, key=lambda t: (fused[t], cosine.get(t, 0.0)), reverse=True)
        topics = []
        for rank, topic in enumerate(ranked):
            similarity = cosine.get(topic, 0.0)
            confidence = (similarity - self.floor) / (self.ceiling - self.floor)
            if rank == 0 and len(ranked) > 1:
                runner_up = max(cosine.get(t, 0.0) for t in ranked[1:])
                gap = similarity - runner_up
                if gap < self.margin:
                    confidence -= (self.margin - gap) / self.margin * 0.25
            topics.append(
                {"topic": topic, "confidence": min(1.0, max(0.0, confidence)),
                 "similarity": similarity, "fused_score": fused[topic]}
            )
        return {"topics": topics}

    def to_dict(self) -> dict[str, Any]:
        from haystack import default_to_dict

        return default_to_dict(self, floor=self.floor, ceiling=self.ceiling, margin=self.margin)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TopicRanker:
        from haystack import default_from_dict

        return default_from_dict(cls, data)


def build_retrieval_pipeline(store: InMemoryDocumentStore, candidates: int = CANDIDATES) -> Pipeline:
    """question ─┬─ BM25 ──────────────────┐
                 └─ e5 embedder ─ dense ───┴─ RRF joiner ─ topic ranker (+ dense scores for confidence)"""
    pipeline = Pipeline()
    pipeline.add_component("bm25", InMemoryBM25Retriever(store, top_k=candidates))
    pipeline.add_component("embedder", E5TextEmbedder())
    pipeline.add_component("dense", InMemoryEmbeddingRetriever(store, top_k=candidates))
    pipeline.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=2 * candidates))
    pipeline.add_component("ranker", TopicRanker())
    pipeline.connect("embedder.embedding", "dense.query_embedding")
    pipeline.connect("bm25.documents", "joiner.documents")
    pipeline.connect("dense.documents", "joiner.documents")
    pipeline.connect("joiner.documents", "ranker.documents")
    pipeline.connect("dense.documents", "ranker.dense_documents")
    return pipeline


class KnowledgeBase:
    """The topics and their retrieval pipeline. Open it once per process; `search` is thread-safe."""

    def __init__(self, topics: Iterable[Topic], store: InMemoryDocumentStore) -> None:
        self.topics = {topic.id: topic for topic in topics}
        self.pipeline = build_retrieval_pipeline(store)
        self.pipeline.warm_up()

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
        return cls(load_topics(topics_dir, languages), index.load())

    def search(self, question: str, top_k: int = 5) -> Match:
        text = question.strip()
        if not text:
            return Match(question)
        result = self.pipeline.run({"bm25": {"query": text}, "embedder": {"text": text}})
        hits = tuple(
            TopicHit(self.topics[row["topic"]], row["confidence"], row["similarity"], row["fused_score"])
            for row in result["ranker"]["topics"][:top_k]
        )
        return Match(question, hits)
