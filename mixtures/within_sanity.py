"""The sanity checks behind the within-type diversity figure (README, Within-type
diversity): the tests assert them on real sources and ``bench/within_bench.py``
records their numbers."""

from __future__ import annotations

import numpy as np

from mixtures.diversity_within import vendi
from mixtures.embedding import embed


def vendi_of_texts(texts: list[str]) -> float:
    """Vendi score of ``texts`` with the shipped embedding (texts with no known word left out)."""
    vectors = embed(texts)
    return vendi(vectors[np.linalg.norm(vectors, axis=1) > 0])


def near_duplicates(text: str, n: int, rate: float = 0.05, seed: int = 0) -> list[str]:
    """``n`` copies of ``text`` with a ``rate`` share of its words replaced by other
    words of the same text (at least one per copy)."""
    rng = np.random.default_rng(seed)
    words = text.split()
    copies = []
    for _ in range(n):
        w = list(words)
        for i in rng.integers(len(w), size=max(1, int(len(w) * rate))):
            w[i] = w[rng.integers(len(w))]
        copies.append(" ".join(w))
    return copies


def sample_of(texts: list[str], n: int, seed: int = 0) -> list[str]:
    """``n`` of ``texts`` drawn without replacement, in their original order."""
    picked = np.random.default_rng(seed).permutation(len(texts))[:n]
    return [texts[i] for i in sorted(picked)]
