"""The retrieval index: built from the topics, persisted, and reloaded fast while the content is unchanged."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from haystack import Document
from haystack.document_stores.in_memory import InMemoryDocumentStore

from knowledge.embedder import E5DocumentEmbedder
from knowledge.topics import Topic, content_digest, load_topics

INDEX_VERSION = 3  # bump when the document layout changes, so old caches are rebuilt
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
_SENTENCE_END = re.compile(r"(?<=[.!?؟])\s+")
_MIN_DETAIL_CHARS = 20


@dataclass(frozen=True)
class IndexManifest:
    digest: str
    version: int
    documents: int
    built_at: str


def topic_documents(topics: Iterable[Topic]) -> list[Document]:
    """Each example question is a document, so is each answer with its title, and each sentence of the details
    (names of towns and offices often appear only there), in every language."""
    documents = []
    for topic in topics:
        for language, localized in topic.answers.items():
            meta = {"topic": topic.id, "lang": language}
            for number, question in enumerate(localized.questions):
                documents.append(
                    Document(id=f"{topic.id}/{language}/q{number}", content=question, meta=meta | {"kind": "question"})
                )
            answer = _PLACEHOLDER.sub("", localized.answer)
            documents.append(
                Document(id=f"{topic.id}/{language}/a", content=f"{topic.title}. {answer}", meta=meta | {"kind": "answer"})
            )
            details = _PLACEHOLDER.sub("", localized.details)
            for number, sentence in enumerate(_SENTENCE_END.split(details)):
                if len(sentence) >= _MIN_DETAIL_CHARS:
                    documents.append(
                        Document(id=f"{topic.id}/{language}/d{number}", content=sentence, meta=meta | {"kind": "detail"})
                    )
    return documents


BM25_ALGORITHM = "BM25Plus"


def new_store() -> InMemoryDocumentStore:
    # shared=False: each KnowledgeBase owns its data; tests build several side by side.
    return InMemoryDocumentStore(bm25_algorithm=BM25_ALGORITHM, shared=False)


class IndexStore:
    """Where the built index lives: `documents.json`, `embeddings.npy` and `manifest.json` in one folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def manifest(self) -> IndexManifest | None:
        try:
            return IndexManifest(**json.loads((self.directory / "manifest.json").read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    def is_current(self, digest: str) -> bool:
        manifest = self.manifest()
        return manifest is not None and manifest.digest == digest and manifest.version == INDEX_VERSION

    def save(self, documents: list[Document], digest: str) -> IndexManifest:
        """Write to a sibling folder, then swap it in: a failed build never leaves a half-written index."""
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".index-", dir=self.directory.parent))
        records = [{"id": d.id, "content": d.content, "meta": d.meta} for d in documents]
        (staging / "documents.json").write_text(json.dumps(records, ensure_ascii=False))
        np.save(staging / "embeddings.npy", np.asarray([d.embedding for d in documents], dtype=np.float32))
        manifest = IndexManifest(digest, INDEX_VERSION, len(documents), datetime.now(UTC).isoformat(timespec="seconds"))
        (staging / "manifest.json").write_text(json.dumps(manifest.__dict__))
        if self.directory.exists():
            shutil.rmtree(self.directory)
        staging.rename(self.directory)
        return manifest

    def load(self) -> InMemoryDocumentStore:
        records = json.loads((self.directory / "documents.json").read_text())
        embeddings = np.load(self.directory / "embeddings.npy")
        store = new_store()
        store.write_documents(
            [
                Document(id=r["id"], content=r["content"], meta=r["meta"], embedding=vector)
                for r, vector in zip(records, embeddings.tolist(), strict=True)
            ]
        )
        return store


def build_index(
    topics_dir: Path,
    languages: Iterable[str],
    store: IndexStore,
    progress: Callable[[int, int], None] | None = None,
) -> IndexManifest:
    """Validate every topic (raising `TopicError` before anything is written), embed and persist."""
    digest = content_digest(topics_dir)
    documents = topic_documents(load_topics(topics_dir, languages))
    embedder = E5DocumentEmbedder()
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if progress:
            progress(done, len(documents))

    embedder.progress = advance
    embedded = embedder.run(documents)["documents"]
    return store.save(embedded, digest)
