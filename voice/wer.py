"""Word error rate between what was meant and what Whisper heard."""

from __future__ import annotations

import unicodedata


def words(text: str) -> list[str]:
    cleaned = "".join(" " if unicodedata.category(c)[0] in "PSZC" else c for c in text.lower())
    return cleaned.split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / len(ref)
