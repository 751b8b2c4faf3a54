"""Text preprocessing shared by training and inference: ``preprocess`` is the one entry point.

A document becomes one line of fastText input: structural feature tokens
(how the text is built: numbered steps, imperative lines, second person,
equations, code, dialogue...) followed by its normalised words. The feature
tokens carry content type across sources whose vocabulary differs (a Victorian
recipe and a shell tutorial both have imperative lines). All string work runs
as Arrow compute kernels over a whole batch, which keeps tagging cheap inside
prepare.
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

_IMPERATIVES = (
    "add|apply|arrange|avoid|bake|beat|begin|boil|bring|build|call|change|check|choose|"
    "click|combine|connect|cook|copy|cover|create|cut|define|delete|divide|do|don't|drain|"
    "draw|enter|fill|find|fold|fry|get|give|heat|insert|install|keep|knit|lay|leave|let|"
    "make|measure|melt|mix|move|multiply|note|open|place|pour|prepare|press|put|read|"
    "remember|remove|repeat|replace|return|run|season|select|serve|set|sew|simmer|solve|"
    "start|stir|subtract|take|try|turn|type|use|wash|wait|write"
)
# (name, RE2 pattern, ignore case). Counted per 1000 characters of the window.
_FEATURES = (
    ("step", r"(?m)^\s*(?:\d{1,2}[.)]|step\s+\d+|\(\d{1,2}\))\s", True),
    ("bullet", r"(?m)^\s*[-*•+]\s", False),
    ("imper", rf"(?m)^\s*(?:[-*•+]\s*|\d{{1,2}}[.)]\s*)?(?:{_IMPERATIVES})\b", True),
    ("seq", r"\b(?:first|then|next|finally|afterwards|until)\b", True),
    ("you", r"\byou(?:r|rself)?\b", True),
    ("must", r"\b(?:should|must|need to|be sure|take care)\b", True),
    ("arith", r"\d\s*[-+*/×x=]\s*\d", False),
    ("code", r"[{};`]|\(\)", False),
    ("define", r"\b(?:is an?|are|was an?|were|refers to|means|consists of)\b", True),
    ("first", r"\b(?:I|me|my|we|our)\b", False),
    ("quote", r"[\"“”]", False),
    ("past", r"\b(?:had|was|were|said|did)\b", True),
    ("question", r"\?", False),
)
_TOKENS = [pa.array([f"_{name}{b}" for b in range(5)]) for name, _, _ in _FEATURES]
# Bucket edges of a rate per 1000 characters: none, rare, some, frequent, dense.
_EDGES = np.array([0.0, 1.0, 4.0, 12.0])
# fastText splits on whitespace only: punctuation becomes a separator, every
# digit a 0 (numbers vary by source, their shape less so), newlines a space
# (fastText reads a newline as the end of the example). Bytes >= 0x80 are kept,
# so UTF-8 letters pass through.
_PUNCT = (string.punctuation + string.whitespace).encode()
_TABLE = bytes.maketrans(_PUNCT + string.digits.encode(), b" " * len(_PUNCT) + b"0" * 10)


def window(text: str) -> str:
    """The part of a document the classifiers read (all of it when short)."""
    if len(text) <= WINDOW_CHARS:
        return text
    middle = len(text) // 2
    return text[:_HALF] + "\n" + text[middle : middle + _HALF]


def _feature_prefix(windows: pa.Array, lengths: np.ndarray) -> list[str]:
    per_k = 1000.0 / np.maximum(lengths, 200)
    columns = []
    for (_, pattern, ignore_case), tokens in zip(_FEATURES, _TOKENS, strict=True):
        counts = pc.count_substring_regex(windows, pattern, ignore_case=ignore_case)
        bucket = np.searchsorted(_EDGES, counts.to_numpy(zero_copy_only=False) * per_k)
        columns.append(tokens.take(pa.array(bucket)))
    return pc.binary_join_element_wise(*columns, " ").to_pylist()


def preprocess(texts: Sequence[str] | pa.Array) -> list[str]:
    """fastText input lines for ``texts``: feature tokens, then normalised words."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    raw = texts.to_pylist() if isinstance(texts, pa.Array) else list(texts)
    windows = [window(t) for t in raw]
    array = pa.array(windows, pa.large_string())
    prefixes = _feature_prefix(array, pc.utf8_length(array).to_numpy(zero_copy_only=False))
    return [
        f"{prefix} {w.lower().encode().translate(_TABLE).decode()}"
        for prefix, w in zip(prefixes, windows, strict=True)
    ]
