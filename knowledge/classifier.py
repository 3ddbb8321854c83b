"""A topic classifier over the topics' example questions: softmax regression on their e5 vectors.

Nearest-neighbour evidence says which stored sentence a question resembles; a classifier trained on every
example question of a topic (in all ten languages) learns what the topic's questions have in common, so a
fresh paraphrase that resembles no single example still lands on its topic. It is trained when the index is
built (a few seconds) and kept next to it.

>>> classifier = TopicClassifier.train(vectors, labels)
>>> classifier.probabilities(query_vector)["blue-card"]
0.93...
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

# Logits are scaled cosines: e5 vectors are unit length, so without a scale the softmax could not get sharp.
SCALE = 20.0
L2 = 1e-4
STEPS = 300
LEARNING_RATE = 0.05


class TopicClassifier:
    def __init__(self, topics: Sequence[str], weights: np.ndarray, bias: np.ndarray, digest: str = "") -> None:
        self.topics = tuple(topics)
        self.weights = weights.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.digest = digest

    @classmethod
    def train(cls, vectors: np.ndarray, labels: Sequence[str], digest: str = "", seed: int = 0) -> TopicClassifier:
        """Full-batch Adam on the cross-entropy with a small L2 penalty; deterministic for given inputs."""
        topics = sorted(set(labels))
        index = {topic: i for i, topic in enumerate(topics)}
        x = np.asarray(vectors, dtype=np.float64) * SCALE
        y = np.array([index[label] for label in labels])
        onehot = np.eye(len(topics))[y]
        rng = np.random.default_rng(seed)
        weights = rng.normal(0.0, 1e-3, (x.shape[1], len(topics)))
        bias = np.zeros(len(topics))
        moments = [np.zeros_like(weights), np.zeros_like(bias)]
        squares = [np.zeros_like(weights), np.zeros_like(bias)]
        for step in range(1, STEPS + 1):
            probabilities = _softmax(x @ weights + bias)
            error = (probabilities - onehot) / len(x)
            gradients = [x.T @ error + L2 * weights, error.sum(axis=0)]
            for i, (parameter, gradient) in enumerate(zip((weights, bias), gradients, strict=True)):
                moments[i] = 0.9 * moments[i] + 0.1 * gradient
                squares[i] = 0.999 * squares[i] + 0.001 * gradient**2
                corrected = moments[i] / (1 - 0.9**step)
                scale = np.sqrt(squares[i] / (1 - 0.999**step)) + 1e-8
                parameter -= LEARNING_RATE * corrected / scale
        return cls(topics, weights * SCALE, bias, digest)

    def probabilities(self, vector: Sequence[float] | np.ndarray) -> dict[str, float]:
        logits = np.asarray(vector, dtype=np.float32) @ self.weights + self.bias
        return dict(zip(self.topics, _softmax(logits[None, :])[0].tolist(), strict=True))

    def save(self, path: Path) -> None:
        np.savez(path, topics=np.array(self.topics), weights=self.weights, bias=self.bias, digest=np.array(self.digest))

    @classmethod
    def load(cls, path: Path) -> TopicClassifier | None:
        try:
            with np.load(path) as data:
                return cls([str(t) for t in data["topics"]], data["weights"], data["bias"], str(data["digest"]))
        except (FileNotFoundError, KeyError, ValueError, OSError):
            return None


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
