"""MinHash signatures over word 5-gram shingles of normalised text.

The one public entry point is :func:`minhash_signatures`; everything else is a
helper so the backend (today: vectorised shingle hashing and one-permutation
MinHash, both in numpy) can change without touching the pipeline.

Words and their normalisation are ``procmix_core.words`` (decontamination matches
the same words).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from procmix_core.hashing import GOLDEN_GAMMA, mix64
from procmix_core.words import (  # noqa: F401 (normalized_words, word_hashes re-exported)
    WINDOW_HASH_BASE,
    normalized_words,
    window_hashes,
    word_hashes,
)

SHINGLE_WORDS = 5

_EMPTY_BIN = np.uint32(0xFFFFFFFF)


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    """The set of word ``size``-grams of ``text`` (one shingle when it has fewer words)."""
    words = normalized_words(text)
    if not words:
        return set()
    return {" ".join(words[i : i + size]) for i in range(max(1, len(words) - size + 1))}


def shingle_hashes(
    texts: list[str] | pa.Array, size: int = SHINGLE_WORDS
) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every word ``size``-gram of every text, as one flat array.

    Returns ``(hashes, offsets)`` where the shingles of text ``i`` are
    ``hashes[offsets[i]:offsets[i + 1]]``. A text with fewer than ``size`` words
    has one shingle made of the words it has; a text with no words has none.
    Splitting and word de-duplication run in Arrow's C++ kernels, only the
    distinct words of the batch are hashed in Python (xxh3), and shingle hashes
    combine ``size`` consecutive word hashes in numpy: no Python loop per word.
    """
    word_hash, words_per_text = word_hashes(texts)
    n_words = len(word_hash)
    first_word = np.zeros(len(words_per_text), dtype=np.int64)
    np.cumsum(words_per_text[:-1], out=first_word[1:])
    # Combine every run of `size` consecutive words, ignoring text boundaries; the
    # runs that cross one are dropped below, and short texts are redone on their own.
    combined = window_hashes(word_hash, size)
    with np.errstate(over="ignore"):
        short = np.flatnonzero((words_per_text > 0) & (words_per_text < size))
        for text in short:
            first, count = first_word[text], words_per_text[text]
            value = np.uint64(0)
            for k in range(size):
                value *= WINDOW_HASH_BASE
                value += word_hash[first + k] if k < count else np.uint64(0)
            combined[first] = value
    shingles_per_text = np.where(words_per_text > 0, np.maximum(words_per_text - size + 1, 1), 0)
    # A text's shingles are the runs starting at its first `shingles_per_text`
    # words; mark those runs with a +1/-1 difference array (texts do not overlap).
    has = shingles_per_text > 0
    marks = np.zeros(n_words + 1, dtype=np.int8)
    marks[first_word[has]] += 1
    marks[first_word[has] + shingles_per_text[has]] -= 1
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(shingles_per_text, out=offsets[1:])
    return combined[np.cumsum(marks[:-1], dtype=np.int8).view(bool)], offsets


def shingle_jaccards(texts: list[str] | pa.Array, pairs: np.ndarray) -> np.ndarray:
    """Exact Jaccard of the shingle sets of ``texts[a]`` and ``texts[b]`` per row ``(a, b)``.

    Two texts without words have Jaccard 1 (equal empty sets).
    """
    hashes, bounds = _distinct_per_text(*shingle_hashes(texts))
    sets = [hashes[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]
    return np.array(
        [_jaccard(sets[a], sets[b]) for a, b in np.asarray(pairs).reshape(-1, 2).tolist()],
        dtype=np.float64,
    )


def _distinct_per_text(hashes: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each text's shingle hashes sorted and deduplicated, with one sort for all texts."""
    text = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
    order = np.lexsort((hashes, text))
    hashes, text = hashes[order], text[order]
    first = np.ones(len(hashes), dtype=bool)
    first[1:] = (hashes[1:] != hashes[:-1]) | (text[1:] != text[:-1])
    distinct_bounds = np.zeros(len(bounds), dtype=np.int64)
    np.cumsum(np.bincount(text[first], minlength=len(bounds) - 1), out=distinct_bounds[1:])
    return hashes[first], distinct_bounds


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two arrays of distinct values."""
    shared = len(np.intersect1d(a, b, assume_unique=True))
    union = len(a) + len(b) - shared
    return shared / union if union else 1.0


def _mix(hashes: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64's finaliser over ``hashes ^ seed``: each output bit depends on all input bits."""
    with np.errstate(over="ignore"):
        x = hashes ^ (np.uint64(seed) * GOLDEN_GAMMA)
    return mix64(x)


def _densify(signatures: np.ndarray, empty: np.ndarray) -> None:
    """Fill the bins a text left empty, in place, from the next filled bin to the right.

    The direction is the same for every text, so two texts that both miss a bin
    borrow from the same place and still collide with probability equal to
    their Jaccard (Shrivastava and Li 2014, densified one-permutation hashing).
    The borrowed minimum is offset by the distance so that it cannot pass for
    the neighbour's own value. Texts with no filled bin stay empty.
    """
    num_perm = signatures.shape[1]
    partly_empty = np.flatnonzero(empty.any(axis=1) & ~empty.all(axis=1))
    if not len(partly_empty):
        return
    empty = empty[partly_empty]
    bin_index = np.arange(num_perm, dtype=np.int16)
    beyond = np.int16(2 * num_perm)
    # Next filled bin at or after each bin; past the last one, wrap to the first.
    source = np.where(empty, beyond, bin_index)
    source = np.minimum.accumulate(source[:, ::-1], axis=1)[:, ::-1]
    first_filled = source[:, :1]
    source = np.where(source == beyond, first_filled + np.int16(num_perm), source)
    rows = signatures[partly_empty]
    borrowed = np.take_along_axis(rows, source % num_perm, axis=1)
    with np.errstate(over="ignore"):
        borrowed += (source - bin_index).astype(np.uint32) * np.uint32(
            WINDOW_HASH_BASE & 0xFFFFFFFF
        )
    signatures[partly_empty] = np.where(empty, borrowed, rows)


def minhash_signatures(
    texts: list[str] | pa.Array, num_perm: int = 128, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures of ``texts`` and how many bins each text filled itself.

    Returns a ``(len(texts), num_perm)`` uint32 array and an int64 array.
    One-permutation hashing: each shingle's mixed hash picks a bin with its high
    bits and competes for that bin's minimum with its low bits, so a shingle is
    hashed once instead of ``num_perm`` times; bins a short text leaves empty
    are filled by densification (see ``_densify``). The fraction of equal bins
    estimates the Jaccard of two shingle sets, as with ``num_perm`` permutations.
    A text without words gets an all-ones signature; callers must not bucket it (it
    would match every other empty-looking text): its filled count is 0. Bins
    filled by densification are copies, so a text that filled few bins itself
    gets noisier estimates than the binomial error of ``num_perm`` draws.
    """
    hashes, offsets = shingle_hashes(texts)
    n = len(offsets) - 1
    mixed = _mix(hashes, seed)
    bins = ((mixed >> np.uint64(32)) * np.uint64(num_perm)) >> np.uint64(32)
    text_of_shingle = np.repeat(np.arange(n, dtype=np.uint64), np.diff(offsets))
    signatures = np.full(n * num_perm, _EMPTY_BIN, dtype=np.uint32)
    np.minimum.at(signatures, text_of_shingle * np.uint64(num_perm) + bins, mixed.astype(np.uint32))
    signatures = signatures.reshape(n, num_perm)
    empty = signatures == _EMPTY_BIN
    _densify(signatures, empty)
    return signatures, num_perm - empty.sum(axis=1)
