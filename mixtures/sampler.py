"""Seeded, order-independent, nested document selection and shard order.

Each document's key is SplitMix64(xxh3-64(doc_key) xor a seeded salt), so it
does not depend on where the document sits in the corpus. A bucket sorts its documents
by key and takes the prefix whose tokens come closest to its target: a larger
target with the same seed takes a superset (selections nest across a sweep's
arms), and the error is at most half a document per bucket. Targets above a
bucket's size take whole epochs first, then a prefix.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

SELECT_STREAM = 0
ORDER_STREAM = 1
# The ordering Omni-Thinker found to help: structured tasks before open-ended ones.
STRUCTURED_TASKS = frozenset({"math", "code", "computing", "reasoning"})


def base_hashes(doc_keys: list[str]) -> np.ndarray:
    """xxh3-64 of each doc_key: computed once per corpus, salted per seed and stream."""
    return np.fromiter((xxhash.xxh3_64_intdigest(k) for k in doc_keys), np.uint64, len(doc_keys))


def splitmix64(x: np.ndarray) -> np.ndarray:
    z = np.asarray(x, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def seeded_keys(base: np.ndarray, seed: int, stream: int) -> np.ndarray:
    """Seeded keys; ``stream`` separates the selection and order hashes."""
    salt = splitmix64(np.array([(seed * 2 + stream) % 2**64], dtype=np.uint64))[0]
    return splitmix64(base ^ salt)


def _sort_order(columns: dict) -> np.ndarray:
    """Indices that sort by the columns in turn; the string key settles hash ties."""
    table = pa.table(columns)
    return pc.sort_indices(table, [(name, "ascending") for name in columns]).to_numpy()


def _closest_prefix(tokens: np.ndarray, target: float) -> int:
    """Length of the prefix of ``tokens`` whose sum is closest to ``target`` (shorter on ties)."""
    cum = np.cumsum(tokens)
    i = int(np.searchsorted(cum, target))
    below = cum[i - 1] if i > 0 else 0
    if i < len(cum) and cum[i] - target < target - below:
        return i + 1
    return i


def select(
    base: np.ndarray,
    doc_keys: pa.Array | pa.ChunkedArray,
    bucket: np.ndarray,
    tokens: np.ndarray,
    targets: np.ndarray,
    seed: int,
    max_epochs: int = 1,
) -> np.ndarray:
    """Copies of each document to take (0 = not selected), per the bucket targets."""
    order = _sort_order(
        {"bucket": bucket, "key": seeded_keys(base, seed, SELECT_STREAM), "doc_key": doc_keys}
    )
    sorted_bucket = bucket[order]
    sorted_tokens = tokens[order]
    bounds = np.searchsorted(sorted_bucket, np.arange(len(targets) + 1))
    copies = np.zeros(len(base), dtype=np.int64)
    for b, target in enumerate(targets):
        lo, hi = bounds[b], bounds[b + 1]
        held = int(sorted_tokens[lo:hi].sum())
        if target <= 0 or held == 0:
            continue
        full = min(int(target // held), max_epochs)
        members = order[lo:hi]
        copies[members] = full
        if full < max_epochs:
            k = _closest_prefix(sorted_tokens[lo:hi], target - full * held)
            copies[members[:k]] += 1
    return copies


def expand(copies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(document index, epoch) of every copy, in document order."""
    doc = np.repeat(np.arange(len(copies)), copies)
    return doc, np.arange(len(doc)) - np.repeat(np.cumsum(copies) - copies, copies)


def output_order(
    base: np.ndarray,
    doc_keys: pa.Array | pa.ChunkedArray,
    copies: np.ndarray,
    structured: np.ndarray,
    seed: int,
    structured_first: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(document index, epoch) of every output row, in shard order.

    Order is a second seeded hash of the key (mixed with the epoch for
    repeats), so it is a shuffle that no input order can change;
    ``structured_first`` puts the structured task types' documents first,
    each group shuffled.
    """
    doc, epoch = expand(copies)
    order_keys = seeded_keys(base[doc] ^ splitmix64(epoch.astype(np.uint64)), seed, ORDER_STREAM)
    group = (~structured[doc]).astype(np.int8) if structured_first else np.zeros(len(doc), np.int8)
    order = _sort_order(
        {
            "group": group,
            "key": order_keys,
            "doc_key": doc_keys.take(pa.array(doc)),
            "epoch": epoch,
        }
    )
    return doc[order], epoch[order]


def shard_of(row_bytes: np.ndarray, shard_rows: int | None, shard_bytes: int | None) -> np.ndarray:
    """Shard index of each output row, from a row count or a text-byte size per shard."""
    if shard_rows is not None:
        return np.arange(len(row_bytes)) // shard_rows
    before = np.cumsum(row_bytes) - row_bytes
    return before // shard_bytes
