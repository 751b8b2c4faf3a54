"""Text preprocessing shared by training and inference: ``preprocess`` is the one entry point.

A document becomes one line of fastText input: the normalised words of its
window. All string work runs over a whole
batch, as Arrow kernels and numpy over the batch's bytes, which keeps tagging
cheap inside prepare; a document's line never depends on the rest of its batch.

Question and exclamation marks stay, each as a token of its own (``?``,
``!``): they carry register (questions to the reader, exclamations, the
voice of opinion, promotion and personal web pages) that words alone lose.
On ../shared/dev they moved content macro-F1 by about +0.01 at no cost in
speed (docs/experiments/classifiers-round2.md).

Structural feature tokens (rates of numbered steps, imperative lines, second
person, code characters, ... as extra words) were tried: 13 regex passes that
took three quarters of the preprocessing time for a leave-one-source-out gain
within noise (see the model card); register-rate tokens (question,
exclamation, first- and second-person rates) again moved dev by noise only.
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
# The register marks are kept as tokens of their own: a space goes either side.
MARKS = b"?!"
_PUNCT = bytes(c for c in (string.punctuation + string.whitespace).encode() if c not in MARKS)
_TABLE = bytes.maketrans(_PUNCT + string.digits.encode(), b" " * len(_PUNCT) + b"0" * 10)
_SPACE = ord(" ")
_MARK_BYTES = np.frombuffer(MARKS, dtype=np.uint8)
# No words are dropped any more (an empty set, kept in the models' meta files):
# blanking 20 frequent function words (the, of, and, ...) cost dev content
# macro-F1 about 0.01 and task macro-F1 about 0.02 over seeds 1-3, for about 5%
# of tagging time (docs/experiments/classifiers-round2.md).
STOPWORDS: frozenset[str] = frozenset()


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


def _space_marks(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A space inserted before and after every mark byte (``MARKS``), offsets moved to match."""
    marks = np.flatnonzero(np.isin(data, _MARK_BYTES))
    if not len(marks):
        return data, offsets
    spaced = np.insert(data, np.repeat(marks, 2) + np.tile([0, 1], len(marks)), _SPACE)
    return spaced, offsets + 2 * np.searchsorted(marks, offsets)


def _words(windows: pa.Array) -> pa.Array:
    """Lower-cased words with punctuation (but ``MARKS``) and whitespace as spaces, digits
    as 0, each mark a token: two bytes passes over the whole batch."""
    lower = pc.utf8_lower(windows)
    offsets, data = _buffers(lower)
    normalised = np.frombuffer(data.tobytes().translate(_TABLE), dtype=np.uint8)
    normalised, offsets = _space_marks(normalised, offsets)
    return pa.LargeStringArray.from_buffers(
        len(lower), pa.py_buffer(offsets), pa.py_buffer(normalised)
    )


def preprocess(texts: Sequence[str] | pa.Array) -> list[str]:
    """fastText input lines for ``texts``: the normalised words of each document's window."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    raw = texts.to_pylist() if isinstance(texts, pa.Array) else list(texts)
    return _words(pa.array([window(t) for t in raw], pa.large_string())).to_pylist()
