"""MinHash signatures over word 5-gram shingles of normalised text.

The one public entry point is :func:`minhash_signatures`; everything else is a
helper so the backend can change without touching the pipeline. Today the
folding runs in Arrow kernels and a byte pass; word splitting, shingle hashing
and one-permutation MinHash run in two small numba kernels over the folded
bytes of a whole batch (one pass, no Python call per word or per document).

Normalisation folds case (Unicode lower-casing), ASCII punctuation and the common
Unicode quotes/dashes to a word break, and any run of whitespace to one break.
The stored text is never modified: this only decides what counts as the same
shingle.
"""

from __future__ import annotations

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SHINGLE_WORDS = 5

_SEPARATOR = 32
_WORD_BYTES = bytes(
    (ord(chr(c).lower()) if c < 128 else c)
    if (c >= 128 or chr(c).isalnum() or c == ord("_"))
    else _SEPARATOR
    for c in range(256)
)
# Unicode punctuation common in real text, folded like its ASCII twin.
_UNICODE_PUNCTUATION = "[\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00a0\u00ab\u00bb]"
_SHINGLE_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_EMPTY_BIN = np.uint32(0xFFFFFFFF)
# Kernel argument types, given up front so that the kernels compile (or load
# from numba's on-disk cache) when this module is imported: worker processes
# forked after that import start with them ready.
_BYTES = numba.types.Array(numba.uint8, 1, "C", readonly=True)
_INT64S = numba.types.Array(numba.int64, 1, "C")
_UINT64S = numba.types.Array(numba.uint64, 1, "C")


def _unicode_folded(texts: pa.LargeStringArray) -> pa.LargeStringArray:
    """Unicode lower-casing and punctuation folding, run on the non-ASCII texts only.

    They cost several times the ASCII byte pass, and most texts are ASCII.
    """
    ascii_only = pc.string_is_ascii(texts).fill_null(True).to_numpy(zero_copy_only=False)
    if ascii_only.all():
        return texts
    unicode_rows = np.flatnonzero(~ascii_only)
    folded = pc.utf8_lower(
        pc.replace_substring_regex(texts.take(unicode_rows), _UNICODE_PUNCTUATION, " ")
    )
    # Row i comes from `texts` when ASCII, else from `folded`, in the original order.
    source = np.arange(len(texts))
    source[unicode_rows] = len(texts) + np.arange(len(unicode_rows))
    return pa.concat_arrays([texts, folded]).take(source)


def _folded_bytes(texts: list[str] | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The folded UTF-8 bytes of all texts, back to back, and each text's offsets.

    Lower-cased, with every ASCII separator (punctuation, whitespace) turned
    into a space: a word is then a maximal run of non-space bytes. One
    byte-for-byte pass keeps every offset, so Arrow's offsets still delimit
    the texts.
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not isinstance(texts, pa.Array):
        texts = pa.array(texts, pa.large_string())
    texts = _unicode_folded(texts.cast(pa.large_string()))
    _, offsets, data = texts.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int64, count=len(texts) + 1, offset=8 * texts.offset)
    raw = data.to_pybytes()[bounds[0] : bounds[-1]] if data is not None else b""
    folded = np.frombuffer(raw.translate(_WORD_BYTES), dtype=np.uint8)
    return folded, bounds - bounds[0]


def normalized_words(text: str) -> list[str]:
    """The words MinHash sees, after case, punctuation and whitespace folding."""
    folded, _ = _folded_bytes([text])
    # Split on the space byte only, as the kernel does (not on Unicode spaces).
    return [word for word in folded.tobytes().decode().split(" ") if word]


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    """The set of word ``size``-grams of ``text`` (one shingle when it has fewer words)."""
    words = normalized_words(text)
    if not words:
        return set()
    return {" ".join(words[i : i + size]) for i in range(max(1, len(words) - size + 1))}


@numba.njit((_BYTES, _INT64S, numba.int64), cache=True, nogil=True)
def _shingle_kernel(
    data: np.ndarray, bounds: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    n_texts = len(bounds) - 1
    # A text of b bytes has at most (b + 1) // 2 words, so at most as many shingles.
    hashes = np.empty(len(data) // 2 + n_texts, dtype=np.uint64)
    counts = np.zeros(n_texts, dtype=np.int64)
    recent = np.zeros(size, dtype=np.uint64)
    written = 0
    for text in range(n_texts):
        words = 0
        word_hash = _FNV_OFFSET
        in_word = False
        end = bounds[text + 1]
        # One step past the end closes the last word.
        for i in range(bounds[text], end + 1):
            if i < end and data[i] != _SEPARATOR:
                if not in_word:
                    word_hash = _FNV_OFFSET
                    in_word = True
                word_hash = (word_hash ^ np.uint64(data[i])) * _FNV_PRIME
            elif in_word:
                in_word = False
                recent[words % size] = word_hash
                words += 1
                if words >= size:
                    value = np.uint64(0)
                    for k in range(words - size, words):
                        value = value * _SHINGLE_HASH_BASE + recent[k % size]
                    hashes[written] = value
                    written += 1
        if 0 < words < size:
            # A short text is one shingle of the words it has, padded with zeros.
            value = np.uint64(0)
            for k in range(size):
                value = value * _SHINGLE_HASH_BASE + (recent[k] if k < words else np.uint64(0))
            hashes[written] = value
            written += 1
        counts[text] = max(words - size + 1, 1) if words else 0
    return hashes[:written], counts


def shingle_hashes(
    texts: list[str] | pa.Array, size: int = SHINGLE_WORDS
) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every word ``size``-gram of every text, as one flat array.

    Returns ``(hashes, offsets)`` where the shingles of text ``i`` are
    ``hashes[offsets[i]:offsets[i + 1]]``. A text with fewer than ``size`` words
    has one shingle made of the words it has; a text with no words has none.
    A word hashes with FNV-1a over its folded bytes; a shingle combines its
    ``size`` word hashes as a polynomial (order matters).
    """
    data, bounds = _folded_bytes(texts)
    hashes, counts = _shingle_kernel(data, bounds, size)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return hashes, offsets


@numba.njit((_UINT64S, _INT64S, _INT64S, _INT64S), cache=True, nogil=True)
def _jaccard_kernel(
    hashes: np.ndarray, offsets: np.ndarray, first: np.ndarray, second: np.ndarray
) -> np.ndarray:
    n_texts = len(offsets) - 1
    # Each text's shingles sorted and deduplicated in place, then merged pairwise.
    distinct = np.zeros(n_texts, dtype=np.int64)
    for text in range(n_texts):
        start, end = offsets[text], offsets[text + 1]
        hashes[start:end] = np.sort(hashes[start:end])
        count = 0
        for i in range(start, end):
            if count == 0 or hashes[i] != hashes[start + count - 1]:
                hashes[start + count] = hashes[i]
                count += 1
        distinct[text] = count
    jaccards = np.empty(len(first), dtype=np.float64)
    for pair in range(len(first)):
        a, b = first[pair], second[pair]
        i, i_end = offsets[a], offsets[a] + distinct[a]
        j, j_end = offsets[b], offsets[b] + distinct[b]
        shared = 0
        while i < i_end and j < j_end:
            if hashes[i] == hashes[j]:
                shared += 1
                i += 1
                j += 1
            elif hashes[i] < hashes[j]:
                i += 1
            else:
                j += 1
        union = distinct[a] + distinct[b] - shared
        jaccards[pair] = shared / union if union else 1.0
    return jaccards


def shingle_jaccards(texts: list[str] | pa.Array, pairs: np.ndarray) -> np.ndarray:
    """Exact Jaccard of the shingle sets of ``texts[a]`` and ``texts[b]`` per row ``(a, b)``.

    Two texts without words have Jaccard 1 (equal empty sets).
    """
    hashes, offsets = shingle_hashes(texts)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return _jaccard_kernel(
        hashes, offsets, np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])
    )


@numba.njit((_UINT64S, _INT64S, numba.int64, numba.int64), cache=True, nogil=True)
def _one_permutation_kernel(
    hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    n_texts = len(offsets) - 1
    signatures = np.full((n_texts, num_perm), _EMPTY_BIN, dtype=np.uint32)
    filled = np.zeros(n_texts, dtype=np.int64)
    salt = np.uint64(seed) * _SHINGLE_HASH_BASE
    bins = np.uint64(num_perm)
    step = np.uint32(_SHINGLE_HASH_BASE & np.uint64(0xFFFFFFFF))
    for text in range(n_texts):
        row = signatures[text]
        for s in range(offsets[text], offsets[text + 1]):
            # splitmix64's finaliser: every output bit depends on every input bit.
            x = hashes[s] ^ salt
            x ^= x >> np.uint64(30)
            x *= np.uint64(0xBF58476D1CE4E5B9)
            x ^= x >> np.uint64(27)
            x *= np.uint64(0x94D049BB133111EB)
            x ^= x >> np.uint64(31)
            slot = ((x >> np.uint64(32)) * bins) >> np.uint64(32)
            low = np.uint32(x & np.uint64(0xFFFFFFFF))
            if low < row[slot]:
                row[slot] = low
        first_filled = -1
        for b in range(num_perm):
            if row[b] != _EMPTY_BIN:
                filled[text] += 1
                if first_filled < 0:
                    first_filled = b
        if first_filled < 0 or filled[text] == num_perm:
            continue
        # Densification: an empty bin borrows from the next filled bin to its right
        # (wrapping round), offset by the distance; see minhash_signatures.
        source = first_filled + num_perm
        for b in range(num_perm - 1, -1, -1):
            if row[b] != _EMPTY_BIN:
                source = b
            else:
                row[b] = row[source % num_perm] + np.uint32(source - b) * step
    return signatures, filled


def minhash_signatures(
    texts: list[str] | pa.Array, num_perm: int = 128, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures of ``texts`` and how many bins each text filled itself.

    Returns a ``(len(texts), num_perm)`` uint32 array and an int64 array.
    One-permutation hashing: each shingle's mixed hash picks a bin with its high
    bits and competes for that bin's minimum with its low bits, so a shingle is
    hashed once instead of ``num_perm`` times. Bins a short text leaves empty
    are filled by densification (Shrivastava and Li 2014): each borrows the
    minimum of the next filled bin to its right, offset by the distance so it
    cannot pass for that bin's own value. The direction is the same for every
    text, so two texts that both miss a bin borrow from the same place and
    still collide with probability equal to their Jaccard.

    A text without words gets an all-ones signature; callers must not bucket it (it
    would match every other empty-looking text): its filled count is 0. Bins
    filled by densification are copies, so a text that filled few bins itself
    gets noisier estimates than the binomial error of ``num_perm`` draws.
    """
    hashes, offsets = shingle_hashes(texts)
    return _one_permutation_kernel(hashes, offsets, num_perm, seed)
