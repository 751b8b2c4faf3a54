"""The token estimate every stage agrees on when no tokenizer is given.

``n_tokens`` is ceil(UTF-8 bytes / 4), at least 1: about what GPT-2/Llama-style
BPE vocabularies give on English prose. prepare stores it, the mixer sizes
shards by it, verify re-checks it; a mixture spec can name a real tokenizer.
"""

from __future__ import annotations

import numpy as np

BYTES_PER_TOKEN = 4
ESTIMATE_RULE = f"ceil(UTF-8 bytes / {BYTES_PER_TOKEN})"


def estimated_tokens(n_bytes: np.ndarray) -> np.ndarray:
    """The estimate for texts of ``n_bytes`` UTF-8 bytes each."""
    return np.maximum(1, -(-n_bytes // BYTES_PER_TOKEN))


def estimated_tokens_sql(n_bytes_sql: str) -> str:
    """The same estimate as a DuckDB expression over a byte count (texts are never empty)."""
    return f"({n_bytes_sql} + {BYTES_PER_TOKEN - 1}) // {BYTES_PER_TOKEN}"
