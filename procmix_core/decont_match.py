"""Decontamination matching: reading an evaluation-set index, matching texts against
it, and the ``contam_*`` columns and per-benchmark tally built from the matches.

Here, not in ``pipeline``, because both sides match: ``pipeline`` tags documents
(prepare --decont, ``procmix decont``) and builds the index
(``pipeline.decont.index``); ``mixtures`` excludes flagged documents and
``verify`` rematches shards.

Words are ``procmix_core.words``'s (case, punctuation and whitespace folded) and
an n-gram's hash combines its ``n`` word hashes (``window_hashes``), so a
document matches an item when they share ``n`` consecutive normalised words.

An index on disk (a folder, written whole or not at all):

- ``hashes.npy``  uint64, sorted within each n-gram size, sizes one after another
- ``items.npy``   int32 parallel to ``hashes``: the item the n-gram comes from
  (an n-gram shared by several items appears once per item)
- ``prefixes.npy`` uint64, sorted: the hash of every indexed n-gram's first 8
  words, the prefilter ``match`` consults before the exact search
- ``items.parquet`` one row per item: ``item`` (its number), ``item_id``,
  ``benchmark``, ``split``
- ``index.json``  benchmarks (items, indexed items, n, n-grams), the ``ngram_sizes``
  ranges of the arrays, the source files with their sha256, and ``digest``:
  sha256 over the arrays and the item table

One tally serves prepare's summary, ``decont tag``, ``decont report`` and,
through :func:`tally_files`, any folder of Parquet files with a ``text``
column (a mixture's shards): it reads the columns when a file has them, and
matches the text against the index when it does not.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from procmix_core.words import window_hashes, word_hashes

INDEX_FORMAT = "procmix-decont-index/1"
# The shortest n-gram size; also the length of the prefixes the prefilter hashes.
MIN_N = 8
HASHES_FILE = "hashes.npy"
ITEMS_FILE = "items.npy"
PREFIXES_FILE = "prefixes.npy"
ITEM_TABLE_FILE = "items.parquet"
INFO_FILE = "index.json"
# Bits of the presence bitmap consulted before the binary search (2**24 bytes).
_BITMAP_BITS = 27
BATCH_ROWS = 1024
# Where a checked corpus keeps its copy of the index it was checked against.
CORPUS_INDEX_DIR = "decont-index"

# Contamination columns, after TAG_SCHEMA (or DOCS_SCHEMA when not tagging) in
# every docs file: what each document shares with the decontamination index
# (``pipeline.decont``, prepare --decont). Null when the corpus was not checked (prepare without
# --decont); [] and 0 when it was and the document is clean.
DECONT_SCHEMA = pa.schema(
    [
        pa.field("contam_benchmarks", pa.list_(pa.string())),  # sorted
        pa.field("contam_items", pa.list_(pa.string())),  # item ids, in index order
        pa.field("contam_ngrams", pa.int64()),  # the document's n-grams found in the index
        pa.field("contam_longest", pa.int64()),  # longest run of matched words
    ]
)


class DecontIndexError(ValueError):
    """An index folder that cannot be used; the message says why."""


def windows(
    word_hash: np.ndarray, text_of_word: np.ndarray, ends: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every ``n``-word window inside one text: ``(hash, first word position)``.

    ``text_of_word`` and ``ends`` (each text's end position) come from
    :func:`word_positions`; texts shorter than ``n`` have no window.
    """
    start = np.flatnonzero(np.arange(len(word_hash)) + n <= ends[text_of_word])
    return window_hashes(word_hash, n)[start], start


def word_positions(words_per_text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The text of every flat word position, and where each text's words end."""
    return np.repeat(np.arange(len(words_per_text)), words_per_text), np.cumsum(words_per_text)


@dataclass(frozen=True)
class Matches:
    """What one batch of texts shares with the index.

    ``ngrams[i]``: how many of text ``i``'s n-gram windows are in the index;
    ``longest[i]``: the longest run of consecutive words those windows cover;
    ``pairs``: the distinct ``(text, item)`` hits, sorted by text then item.
    """

    index: DecontIndex
    ngrams: np.ndarray
    longest: np.ndarray
    pairs: np.ndarray

    def _lists(self, values: pa.Array, text: np.ndarray) -> pa.ListArray:
        offsets = np.zeros(len(self.ngrams) + 1, dtype=np.int32)
        np.cumsum(np.bincount(text, minlength=len(self.ngrams)), out=offsets[1:])
        return pa.ListArray.from_arrays(pa.array(offsets), values)

    def item_lists(self) -> pa.ListArray:
        """Each text's hit item ids, in index order."""
        item_ids = self.index.item_table["item_id"].combine_chunks()
        return self._lists(item_ids.take(pa.array(self.pairs[1])), self.pairs[0])

    def benchmark_lists(self) -> pa.ListArray:
        """Each text's hit benchmarks, sorted."""
        code = self.index.benchmark_code[self.pairs[1]]
        both = np.unique(np.stack([self.pairs[0], code]), axis=1)
        names = pa.array(self.index.benchmarks)
        return self._lists(names.take(pa.array(both[1])), both[0])


class DecontIndex:
    """A loaded index folder; ``match`` checks batches of texts against it."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        info_path = self.path / INFO_FILE
        if not info_path.exists():
            raise DecontIndexError(
                f"{info_path} not found: build an index with `procmix decont index EVALSET... "
                f"-o {path}`"
            )
        self.info = json.loads(info_path.read_text())
        if self.info.get("format") != INDEX_FORMAT:
            raise DecontIndexError(
                f"{path} is not a {INDEX_FORMAT} index (format {self.info.get('format')!r})"
            )
        hashes = np.load(self.path / HASHES_FILE)
        owners = np.load(self.path / ITEMS_FILE)
        self.item_table = pq.read_table(self.path / ITEM_TABLE_FILE)
        self.benchmarks = sorted(self.info["benchmarks"])
        benchmark_of_item = self.item_table["benchmark"].to_numpy(zero_copy_only=False)
        self.benchmark_code = np.searchsorted(self.benchmarks, benchmark_of_item).astype(np.int64)
        self.sizes = {
            int(n): (hashes[lo:hi], owners[lo:hi].astype(np.int64))
            for n, (lo, hi) in sorted(self.info["ngram_sizes"].items(), key=lambda s: int(s[0]))
        }
        # Presence bitmap over the top bits of the n-grams' 8-word prefixes: one pass over
        # a text's 8-word windows rules out almost every position for every n-gram size.
        prefixes = np.load(self.path / PREFIXES_FILE)
        self._bitmap = np.zeros(1 << (_BITMAP_BITS - 3), dtype=np.uint8)
        top = (prefixes >> np.uint64(64 - _BITMAP_BITS)).astype(np.int64)
        np.bitwise_or.at(self._bitmap, top >> 3, (1 << (top & 7)).astype(np.uint8))

    @property
    def digest(self) -> str:
        return self.info["digest"]

    @cached_property
    def item_ids(self) -> list[str]:
        return self.item_table["item_id"].to_pylist()

    @cached_property
    def benchmark_of(self) -> dict[str, str]:
        """Each item id's benchmark."""
        benchmarks = self.item_table["benchmark"].to_pylist()
        return dict(zip(self.item_ids, benchmarks, strict=True))

    @cached_property
    def indexed(self) -> set[str]:
        """The item ids with at least one n-gram in the index (the others cannot be found)."""
        owners = np.concatenate([owners for _, owners in self.sizes.values()])
        return {self.item_ids[i] for i in np.unique(owners).tolist()}

    def _maybe_present(self, hashes: np.ndarray) -> np.ndarray:
        top = (hashes >> np.uint64(64 - _BITMAP_BITS)).astype(np.int64)
        return (self._bitmap[top >> 3] >> (top & 7).astype(np.uint8)) & 1 == 1

    def match(self, texts: list[str] | pa.Array) -> Matches:
        """Check a batch of texts; memory is bounded by the batch's words."""
        word_hash, counts = word_hashes(texts)
        n_texts = len(counts)
        covered = np.zeros(len(word_hash) + 1, dtype=np.int32)
        ngrams = np.zeros(n_texts, dtype=np.int64)
        pair_text, pair_item = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        text_of_word, ends = word_positions(counts)
        prefix, candidates = windows(word_hash, text_of_word, ends, MIN_N)
        candidates = candidates[self._maybe_present(prefix)]
        for n, (hashes, owners) in self.sizes.items():
            start = candidates[candidates + n <= ends[text_of_word[candidates]]]
            if not len(hashes) or not len(start):
                continue
            window = window_hashes(word_hash, n, start)
            lo = np.searchsorted(hashes, window, side="left")
            hit = hashes[np.minimum(lo, len(hashes) - 1)] == window
            window, start, lo = window[hit], start[hit], lo[hit]
            per_hit = np.searchsorted(hashes, window, side="right") - lo
            text = text_of_word[start]
            ngrams += np.bincount(text, minlength=n_texts)
            np.add.at(covered, start, 1)
            np.add.at(covered, start + n, -1)
            # Every (window, item) of the hits: hash ranges expanded without a loop.
            flat = np.repeat(lo - np.cumsum(per_hit) + per_hit, per_hit) + np.arange(per_hit.sum())
            pair_text.append(np.repeat(text, per_hit))
            pair_item.append(owners[flat])
        pairs = np.unique(np.stack([np.concatenate(pair_text), np.concatenate(pair_item)]), axis=1)
        longest = (
            _longest_runs(covered, counts, text_of_word)
            if len(pairs[0])
            else np.zeros(n_texts, dtype=np.int64)
        )
        return Matches(self, ngrams, longest, pairs)


def _longest_runs(covered: np.ndarray, counts: np.ndarray, text_of_word: np.ndarray) -> np.ndarray:
    """Per text, the longest run of consecutive words with a positive coverage count."""
    inside = np.cumsum(covered[:-1]) > 0
    text_start = np.zeros(len(inside), dtype=bool)
    firsts = np.cumsum(counts) - counts
    text_start[firsts[counts > 0]] = True
    previous = np.concatenate([[False], inside[:-1]])
    run_start = inside & (~previous | text_start)
    run = np.cumsum(run_start) - 1
    longest = np.zeros(len(counts), dtype=np.int64)
    if inside.any():
        lengths = np.bincount(run[inside])
        np.maximum.at(longest, text_of_word[run_start], lengths)
    return longest


def load_index(path: str | os.PathLike) -> DecontIndex:
    """Open an index folder written by :func:`build_index`."""
    return DecontIndex(path)


@lru_cache(maxsize=2)
def shared_index(path: str) -> DecontIndex:
    """One loaded index per process and path (finalize tasks reuse it across ranks)."""
    return load_index(path)


def contam_columns(index: DecontIndex, texts: pa.Array | pa.ChunkedArray) -> dict[str, pa.Array]:
    """The DECONT_SCHEMA columns of a batch of texts."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    matches = index.match(texts)
    return {
        "contam_benchmarks": matches.benchmark_lists(),
        "contam_items": matches.item_lists(),
        "contam_ngrams": pa.array(matches.ngrams),
        "contam_longest": pa.array(matches.longest),
    }


def unchecked_columns(rows: int) -> dict[str, pa.Array]:
    """DECONT_SCHEMA columns of documents never checked: all null."""
    return {f.name: pa.nulls(rows, f.type) for f in DECONT_SCHEMA}


@dataclass
class Tally:
    """Per benchmark: the items hit, and the documents and tokens that hit it."""

    index: DecontIndex
    items_hit: dict[str, set[str]] = field(default_factory=dict)
    documents: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)

    def add(self, table: pa.Table | pa.RecordBatch) -> None:
        """Count a batch holding ``contam_benchmarks``, ``contam_items`` and ``n_tokens``."""
        flagged = table.filter(
            pc.greater(pc.fill_null(pc.list_value_length(table["contam_items"]), 0), 0)
        )
        benchmark_of = self.index.benchmark_of
        for benchmarks, items, tokens in zip(
            flagged["contam_benchmarks"].to_pylist(),
            flagged["contam_items"].to_pylist(),
            flagged["n_tokens"].to_pylist(),
            strict=True,
        ):
            for name in benchmarks:
                self.documents[name] = self.documents.get(name, 0) + 1
                self.tokens[name] = self.tokens.get(name, 0) + tokens
            for item in items:
                self.items_hit.setdefault(benchmark_of[item], set()).add(item)

    def benchmarks(self) -> dict[str, dict]:
        """Per benchmark of the index (sorted): items, items_hit, documents, tokens."""
        return {
            name: {
                "items": entry["items"],
                "items_hit": len(self.items_hit.get(name, ())),
                "documents": self.documents.get(name, 0),
                "tokens": self.tokens.get(name, 0),
            }
            for name, entry in sorted(self.index.info["benchmarks"].items())
        }

    def summary(self) -> dict:
        """What summary.json and a manifest record: the index digest and the benchmarks."""
        return {"index_digest": self.index.digest, "benchmarks": self.benchmarks()}


def is_checked(path: Path) -> bool:
    """Whether a Parquet file has contamination columns filled for every row."""
    if "contam_items" not in pq.read_schema(path).names:
        return False
    return pq.read_table(path, columns=["contam_items"])["contam_items"].null_count == 0


def tally_files(files: list[Path], index: DecontIndex) -> Tally:
    """Tally Parquet files batch by batch; files without filled columns have their ``text``
    matched against ``index`` (memory: one batch)."""
    tally = Tally(index)
    for path in files:
        checked = is_checked(path)
        wanted = ["n_tokens", *DECONT_SCHEMA.names] if checked else ["n_tokens", "text"]
        for batch in pq.ParquetFile(path).iter_batches(BATCH_ROWS, columns=wanted):
            table = pa.Table.from_batches([batch])
            if not checked:
                table = pa.table(
                    {"n_tokens": table["n_tokens"], **contam_columns(index, table["text"])}
                )
            tally.add(table)
    return tally


def corpus_index(root: str | os.PathLike) -> DecontIndex | None:
    """The index a checked corpus carries (``CORPUS/decont-index``), or None."""
    path = Path(root) / CORPUS_INDEX_DIR
    return load_index(path) if path.exists() else None
