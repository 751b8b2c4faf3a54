"""Text preprocessing shared by training and inference: ``preprocess`` is the one entry point.

A document becomes one line of fastText input: the normalised words of its
window, frequent function words blanked. All string work runs over a whole
batch, as Arrow kernels and numpy over the batch's bytes, which keeps tagging
cheap inside prepare; a document's line never depends on the rest of its batch.

Structural feature tokens (rates of numbered steps, imperative lines, second
person, code characters, ... as extra words) were tried: 13 regex passes that
took three quarters of the preprocessing time for a leave-one-source-out gain
within noise (see the model card), so the line holds words only.
"""

from __future__ import annotations

import string
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Long documents are classified on a window: the head (titles, the problem
# statement) plus the middle (the body, away from front matter and trailing
# boilerplate). Most documents here are shorter and are read whole.
WINDOW_CHARS = 2000
_HALF = WINDOW_CHARS // 2

# fastText splits on whitespace only: punctuation becomes a separator, every
# digit a 0 (numbers vary by source, their shape less so), newlines a space
# (fastText reads a newline as the end of the example). Bytes >= 0x80 are kept,
# so UTF-8 letters pass through.
_PUNCT = (string.punctuation + string.whitespace).encode()
_TABLE = bytes.maketrans(_PUNCT + string.digits.encode(), b" " * len(_PUNCT) + b"0" * 10)
_SPACE = ord(" ")
# Frequent English function words, blanked out of the word part: a fifth of
# all tokens, and fastText's time grows with the tokens it reads. Words that
# mark a text's kind stay (is/are/a/an for definitions, was/had for narration,
# you, i, we, modal verbs).
STOPWORDS = frozenset(
    ("the", "of", "and", "to", "in", "for", "that", "as", "be", "it")
    + ("with", "or", "by", "this", "on", "from", "at", "which", "s", "but")
)
_STOP_LEN = max(map(len, STOPWORDS))
# A token of up to 8 bytes (every stopword) as one little-endian integer: the lookup key.
_STOP_KEYS = np.array([int.from_bytes(w.encode(), "little") for w in STOPWORDS], np.uint64)
_LENGTH_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(9)], np.uint64)


def window(text: str) -> str:
    """The part of a document the classifiers read (all of it when short)."""
    if len(text) <= WINDOW_CHARS:
        return text
    middle = len(text) // 2
    return text[:_HALF] + "\n" + text[middle : middle + _HALF]


def _buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and UTF-8 bytes of an unsliced large_string array, as numpy views."""
    _, offsets, data = array.buffers()
    return (
        np.frombuffer(offsets, dtype=np.int64, count=len(array) + 1),
        np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8),
    )


def _token_bounds(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and length of every space-separated token of concatenated documents."""
    word = data != _SPACE
    starts = np.ones(len(data), dtype=bool)
    np.logical_not(word[:-1], out=starts[1:])
    ends = np.ones(len(data), dtype=bool)
    np.logical_not(word[1:], out=ends[:-1])
    # A document's first and last bytes bound a token whatever its neighbour holds.
    starts[offsets[:-1][offsets[:-1] < len(data)]] = True
    ends[offsets[1:][offsets[1:] > offsets[:-1]] - 1] = True
    first = np.flatnonzero(np.logical_and(word, starts, out=starts))
    return first, np.flatnonzero(np.logical_and(word, ends, out=ends)) + 1 - first


def _first_eight_bytes(data: np.ndarray) -> np.ndarray:
    """For every byte position, the 8 bytes from there as a little-endian uint64
    (zero-padded at the end): one gather then reads a whole short token."""
    padded = np.zeros(len(data) + 8, dtype=np.uint8)
    padded[: len(data)] = data
    return np.ndarray((len(data),), dtype="<u8", buffer=padded, strides=(1,))


def _blank_stopwords(data: np.ndarray, offsets: np.ndarray) -> None:
    """Overwrite every stopword token of the normalised bytes with spaces, in place.

    Blanking keeps the offsets valid; fastText skips the extra spaces.
    """
    if not len(data):
        return
    starts, lengths = _token_bounds(data, offsets)
    short = lengths <= _STOP_LEN
    starts, lengths = starts[short], lengths[short]
    hit = np.isin(_first_eight_bytes(data)[starts] & _LENGTH_MASKS[lengths], _STOP_KEYS)
    starts, lengths = starts[hit], lengths[hit]
    # Byte positions of the hits: each start repeated over its length, plus 0, 1, ...
    base = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    data[base + np.arange(len(base))] = _SPACE


def _words(windows: pa.Array) -> pa.Array:
    """Lower-cased words with punctuation and whitespace as spaces, digits as 0,
    stopwords blanked: one bytes pass over the whole batch."""
    lower = pc.utf8_lower(windows)
    offsets, data = _buffers(lower)
    normalised = np.frombuffer(data.tobytes().translate(_TABLE), dtype=np.uint8).copy()
    _blank_stopwords(normalised, offsets)
    return pa.LargeStringArray.from_buffers(
        len(lower), pa.py_buffer(offsets), pa.py_buffer(normalised)
    )


def preprocess(texts: Sequence[str] | pa.Array) -> list[str]:
    """fastText input lines for ``texts``: the normalised words of each document's window."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    raw = texts.to_pylist() if isinstance(texts, pa.Array) else list(texts)
    return _words(pa.array([window(t) for t in raw], pa.large_string())).to_pylist()
