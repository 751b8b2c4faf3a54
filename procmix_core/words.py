"""Words as procmix compares texts: MinHash shingles and decontamination n-grams alike.

Normalisation folds case (Unicode lower-casing), ASCII punctuation and the common
Unicode quotes/dashes to a word break, and any run of whitespace to one break.
The stored text is never modified: this only decides what counts as the same word.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from procmix_core.hashing import GOLDEN_GAMMA

_SEPARATOR = 32
_WORD_BYTES = bytes(
    (ord(chr(c).lower()) if c < 128 else c)
    if (c >= 128 or chr(c).isalnum() or c == ord("_"))
    else _SEPARATOR
    for c in range(256)
)
# Unicode punctuation common in real text, folded like its ASCII twin.
_UNICODE_PUNCTUATION = "[\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00a0\u00ab\u00bb]"
# SplitMix64's odd constant multiplies word hashes into window (shingle, n-gram) hashes.
WINDOW_HASH_BASE = GOLDEN_GAMMA


def _folded_words(texts: pa.Array) -> pa.ListArray:
    """Words of each text after case, punctuation and whitespace folding (Arrow kernels)."""
    texts = _unicode_folded(texts.cast(pa.large_string()))
    _, offsets, data = texts.buffers()
    # One byte-for-byte pass lower-cases ASCII and turns separators into spaces;
    # it keeps every offset, so Arrow's offsets still delimit the texts.
    raw = data.to_pybytes() if data is not None else b""
    folded = pa.LargeStringArray.from_buffers(
        len(texts), offsets, pa.py_buffer(raw.translate(_WORD_BYTES)), offset=texts.offset
    )
    # Leading/trailing separators split into empty strings; shingle_hashes drops them.
    return pc.ascii_split_whitespace(folded)


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


def normalized_words(text: str) -> list[str]:
    """The words MinHash sees, after case, punctuation and whitespace folding."""
    return [w for w in _folded_words(pa.array([text])).to_pylist()[0] if w]


def word_hashes(texts: list[str] | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """xxh3-64 of every normalised word of every text, flat, and each text's word count.

    The words of text ``i`` are ``hashes[first_i:first_i + counts[i]]`` in order,
    with ``first_i`` the sum of the counts before it. Splitting and word
    de-duplication run in Arrow's C++ kernels; only the batch's distinct words
    are hashed in Python.
    """
    if not isinstance(texts, pa.Array):
        texts = pa.array(texts, pa.large_string())
    words = _folded_words(texts)
    words_per_text = pc.list_value_length(words).fill_null(0).to_numpy().astype(np.int64)
    encoded = pc.dictionary_encode(pc.list_flatten(words))
    distinct = encoded.dictionary.to_pylist()
    distinct_hash = np.fromiter(
        map(xxhash.xxh3_64_intdigest, distinct), dtype=np.uint64, count=len(distinct)
    )
    tokens = encoded.indices.to_numpy()
    if "" in distinct:
        # Separators at a text's start or end split into "" tokens: not words.
        is_word = tokens != distinct.index("")
        text_of_token = np.repeat(np.arange(len(texts)), words_per_text)
        words_per_text = np.bincount(text_of_token[is_word], minlength=len(texts))
        tokens = tokens[is_word]
    return distinct_hash[tokens], words_per_text


def window_hashes(word_hash: np.ndarray, size: int, starts: np.ndarray | None = None) -> np.ndarray:
    """The hash of the ``size`` words starting at each of ``starts`` (default: every
    position of ``word_hash``).

    Runs near the end are padded with zero hashes; callers drop the runs that
    cross a text boundary.
    """
    padded = np.concatenate([word_hash, np.zeros(size, dtype=np.uint64)])
    n_words = len(word_hash)
    combined = np.zeros(n_words if starts is None else len(starts), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(size):
            combined *= WINDOW_HASH_BASE
            combined += padded[k : k + n_words] if starts is None else padded[starts + k]
    return combined
