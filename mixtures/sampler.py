"""Seeded, order-independent, nested document selection and shard order.

Each document's key is SplitMix64(xxh3-64(doc_key) xor a seeded salt), so it
does not depend on where the document sits in the corpus. Rounding to whole
documents is joint over a group of buckets (one procedural task type, or the
factual/other block): one merged seeded order over the group's documents, of
which the group takes the prefix closest to its target. The group's total is
off by at most half a document, however many buckets it has, and a larger
target with the same seed takes a superset (selections nest group by group,
and so bucket by bucket, across a sweep's arms). Targets above a group's size
take whole epochs first, then a prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from procmix_core.hashing import splitmix64

SELECT_STREAM = 0
ORDER_STREAM = 1
# The ordering Omni-Thinker found to help: structured tasks before open-ended ones.
STRUCTURED_TASKS = frozenset({"math", "code", "computing", "reasoning"})


def base_hashes(doc_keys: list[str]) -> np.ndarray:
    """xxh3-64 of each doc_key: computed once per corpus, salted per seed and stream."""
    return np.fromiter((xxhash.xxh3_64_intdigest(k) for k in doc_keys), np.uint64, len(doc_keys))


def seeded_keys(base: np.ndarray, seed: int, stream: int) -> np.ndarray:
    """Seeded keys; ``stream`` separates the selection and order hashes."""
    salt = splitmix64(np.array([(seed * 2 + stream) % 2**64], dtype=np.uint64))[0]
    return splitmix64(base ^ salt)


def _sort_order(columns: dict) -> np.ndarray:
    """Indices that sort by the columns in turn; the string key settles hash ties."""
    table = pa.table(columns)
    return pc.sort_indices(table, [(name, "ascending") for name in columns]).to_numpy()


def _within_bucket_position(bucket: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """Each document's place in its bucket as a fraction of the bucket's tokens, taken
    at the document's midpoint (``bucket`` and ``tokens`` already in key order)."""
    cum = np.cumsum(tokens)
    held = np.bincount(bucket, weights=tokens)
    starts = np.searchsorted(bucket, bucket)  # first row of each row's bucket
    before = cum - tokens - np.where(starts > 0, cum[starts - 1], 0)
    return (before + tokens / 2) / np.maximum(held[bucket], 1)


@dataclass(frozen=True)
class GroupOrder:
    """Every group's documents in its merged seeded order.

    A group is a set of buckets planned at one common fraction of what they hold
    (a procedural task type, or the factual/other block). Each bucket orders its
    documents by seeded key; the group merges its buckets' orders by how far into
    its bucket each document sits, so every prefix of the merged order holds each
    bucket within half a document of its proportional part. A selection is a
    *count* per group: the first ``count`` entries of the group's order repeated
    over ``max_epochs`` epochs (count ``n + k`` is one whole epoch and a k-prefix).
    """

    order: np.ndarray  # document indices, group after group, each in merged order
    bounds: np.ndarray  # group g is order[bounds[g]:bounds[g + 1]]
    cum: list[np.ndarray]  # per group: tokens of its first 0, 1, ..., n documents

    def size(self, g: int) -> int:
        return int(self.bounds[g + 1] - self.bounds[g])

    def tokens(self, g: int, count: int) -> int:
        """Tokens taken by ``count`` entries of group g (whole epochs, then a prefix)."""
        n = self.size(g)
        if n == 0:
            return 0
        full, k = divmod(count, n)
        return int(full * self.cum[g][-1] + self.cum[g][k])

    def mean_doc(self, g: int) -> float:
        """Mean tokens of group g's documents."""
        return float(self.cum[g][-1] / self.size(g)) if self.size(g) else 0.0

    def typical_doc(self, g: int) -> float:
        """Size-biased mean tokens of group g's documents (sum of squares over sum): the
        expected size of the document a prefix's end falls in, whose half bounds how
        close the closest prefix comes to a target."""
        sizes = np.diff(self.cum[g]).astype(float)
        return float((sizes**2).sum() / sizes.sum()) if sizes.sum() else 0.0

    def closest(self, g: int, target: float, max_epochs: int) -> int:
        """The count whose tokens come closest to ``target`` (fewer on ties)."""
        n, cum = self.size(g), self.cum[g]
        if target <= 0 or n == 0 or cum[-1] == 0:
            return 0
        full = min(int(target // cum[-1]), max_epochs)
        if full == max_epochs:
            return full * n
        rest = target - full * cum[-1]
        i = int(np.searchsorted(cum, rest))  # cum[i - 1] < rest <= cum[i]
        if i > n or (i > 0 and rest - cum[i - 1] <= cum[i] - rest):
            i -= 1
        return full * n + i

    def copies(self, counts: np.ndarray, n_docs: int) -> np.ndarray:
        """Copies of each document (0 = not selected) for a count per group."""
        copies = np.zeros(n_docs, dtype=np.int64)
        for g, count in enumerate(counts):
            n = self.size(g)
            if n == 0:
                continue
            full, k = divmod(int(count), n)
            members = self.order[self.bounds[g] : self.bounds[g + 1]]
            copies[members] = full
            copies[members[:k]] += 1
        return copies


def group_order(
    base: np.ndarray,
    doc_keys: pa.Array | pa.ChunkedArray,
    bucket: np.ndarray,
    bucket_group: np.ndarray,
    tokens: np.ndarray,
    n_groups: int,
    seed: int,
) -> GroupOrder:
    """The merged seeded order of every group (``bucket_group`` maps bucket to group)."""
    key = seeded_keys(base, seed, SELECT_STREAM)
    by_bucket = _sort_order({"bucket": bucket, "key": key, "doc_key": doc_keys})
    position = np.empty(len(base))
    position[by_bucket] = _within_bucket_position(bucket[by_bucket], tokens[by_bucket])
    group = bucket_group[bucket]
    order = _sort_order({"group": group, "position": position, "key": key, "doc_key": doc_keys})
    bounds = np.searchsorted(group[order], np.arange(n_groups + 1))
    sorted_tokens = tokens[order].astype(np.int64)
    cum = [
        np.concatenate([[0], np.cumsum(sorted_tokens[bounds[g] : bounds[g + 1]])])
        for g in range(n_groups)
    ]
    return GroupOrder(order, bounds, cum)


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
