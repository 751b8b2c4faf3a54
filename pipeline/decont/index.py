"""The decontamination index: every evaluation item's word n-grams, as sorted uint64 hashes.

Words are MinHash's (``pipeline.minhash.word_hashes``: case, punctuation and
whitespace folded) and an n-gram's hash combines its ``n`` word hashes
(``window_hashes``), so a document matches an item when they share ``n``
consecutive normalised words. ``n`` is chosen per benchmark: 13, or the 5th
percentile of its items' length (question + answer words) when that is
shorter, never below 8.

On disk (a folder, written whole or not at all):

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
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.atomic import atomic_dir
from pipeline.decont.evalsets import EvalItem, read_evalsets
from pipeline.minhash import window_hashes, word_hashes

INDEX_FORMAT = "procmix-decont-index/1"
DEFAULT_N = 13
MIN_N = 8
LENGTH_PERCENTILE = 5
HASHES_FILE = "hashes.npy"
ITEMS_FILE = "items.npy"
PREFIXES_FILE = "prefixes.npy"
ITEM_TABLE_FILE = "items.parquet"
INFO_FILE = "index.json"
# GSM8K's calculator annotations (``<<48/2=24>>``) appear in the benchmark's
# files but not in most copies of its solutions; both forms are indexed.
_CALC_ANNOTATION = re.compile(r"<<[^<>\n]*>>")
# An n-gram found in more items than this is template text (task instructions,
# figure code, option lists), not evidence of any one item: it is not indexed.
MAX_ITEMS_PER_NGRAM = 10
# Bits of the presence bitmap consulted before the binary search (2**24 bytes).
_BITMAP_BITS = 27


class DecontIndexError(ValueError):
    """An index folder that cannot be used; the message says why."""


def item_segments(item: EvalItem) -> list[str]:
    """The texts whose n-grams stand for ``item``.

    Question and answer joined (so n-grams of each and those spanning the two),
    and, for multiple choice, the question followed by the options in order (how
    the item reads on a page that lists them); each again with calculator
    annotations removed when it has any.
    """
    segments = [f"{item.question}\n{item.answer}"]
    if item.choices:
        segments.append(f"{item.question}\n" + "\n".join(item.choices))
    stripped = [_CALC_ANNOTATION.sub("", s) for s in segments]
    return segments + [s for s, original in zip(stripped, segments, strict=True) if s != original]


def ngram_size(lengths: np.ndarray) -> int:
    """n for a benchmark whose items have ``lengths`` words: the 5th percentile in [8, 13]."""
    low = int(np.percentile(lengths, LENGTH_PERCENTILE, method="lower"))
    return max(MIN_N, min(DEFAULT_N, low))


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


def _index_arrays(
    items: list[EvalItem], n: int, numbers: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Sorted distinct (hash, item) pairs of ``items`` (numbered ``numbers``) at size ``n``
    without template n-grams, the distinct MIN_N-word prefixes of those n-grams, and how
    many distinct n-grams were dropped as templates."""
    segments = [item_segments(item) for item in items]
    owner = np.repeat(numbers, [len(s) for s in segments]).astype(np.uint64)
    word_hash, counts = word_hashes([text for group in segments for text in group])
    text_of_word, ends = word_positions(counts)
    hashes, start = windows(word_hash, text_of_word, ends, n)
    prefixes = window_hashes(word_hash, MIN_N, start)
    triples = np.unique(np.stack([hashes, owner[text_of_word[start]], prefixes]), axis=1)
    pairs_at = np.ones(triples.shape[1], dtype=bool)
    pairs_at[1:] = (triples[0, 1:] != triples[0, :-1]) | (triples[1, 1:] != triples[1, :-1])
    pairs = triples[:, pairs_at]
    _, shared_by = np.unique(pairs[0], return_counts=True)
    template = shared_by > MAX_ITEMS_PER_NGRAM
    keep = ~np.repeat(template, shared_by)
    return (
        pairs[0][keep],
        pairs[1][keep].astype(np.int32),
        np.unique(pairs[2][keep]),
        int(template.sum()),
    )


def _digest(
    hashes: np.ndarray, owners: np.ndarray, prefixes: np.ndarray, table: pa.Table, sizes: dict
) -> str:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(hashes, dtype="<u8").tobytes())
    digest.update(np.ascontiguousarray(prefixes, dtype="<u8").tobytes())
    digest.update(np.ascontiguousarray(owners, dtype="<i4").tobytes())
    described = {name: table[name].to_pylist() for name in ("item_id", "benchmark", "split")}
    digest.update(json.dumps([described, sizes], sort_keys=True).encode())
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_index(evalset_paths: list[str | os.PathLike], out: str | os.PathLike) -> dict:
    """Read and validate ``evalset_paths``, then write the index folder ``out``.

    Returns the ``index.json`` content. Raises EvalsetError (nothing written)
    when any line is unusable.
    """
    target = Path(out)
    if target.exists() and any(target.iterdir()) and not (target / INFO_FILE).exists():
        raise DecontIndexError(f"{target} exists and is not a decont index: choose a new -o")
    paths = sorted((Path(p) for p in evalset_paths), key=lambda p: str(p.resolve()))
    items = read_evalsets(paths)
    # Items grouped by benchmark, in file then line order within each.
    items = sorted(items, key=lambda item: item.benchmark)
    benchmark = np.array([item.benchmark for item in items])
    names = sorted(set(benchmark.tolist()))
    lengths = word_hashes([f"{item.question}\n{item.answer}" for item in items])[1]
    size_of = {name: ngram_size(lengths[benchmark == name]) for name in names}

    hashes, owners, prefixes, sizes, templates, benchmarks = [], [], [], {}, {}, {}
    start = 0
    for n in sorted(set(size_of.values())):
        numbers = np.flatnonzero(np.isin(benchmark, [b for b in names if size_of[b] == n]))
        h, o, p, templates[str(n)] = _index_arrays([items[i] for i in numbers], n, numbers)
        hashes.append(h)
        owners.append(o)
        prefixes.append(p)
        sizes[str(n)] = [start, start + len(h)]
        start += len(h)
    hashes = np.concatenate(hashes)
    owners = np.concatenate(owners)
    prefixes = np.unique(np.concatenate(prefixes))
    indexed = np.zeros(len(items), dtype=bool)
    indexed[owners] = True
    ngrams_per_item = np.bincount(owners, minlength=len(items))
    for name in names:
        mine = benchmark == name
        benchmarks[name] = {
            "items": int(mine.sum()),
            "indexed_items": int(indexed[mine].sum()),
            "n": size_of[name],
            "ngrams": int(ngrams_per_item[mine].sum()),
        }
    table = pa.table(
        {
            "item": pa.array(np.arange(len(items), dtype=np.int32)),
            "item_id": [item.item_id for item in items],
            "benchmark": benchmark.tolist(),
            "split": pa.array([item.split for item in items], pa.string()),
        }
    )
    info = {
        "format": INDEX_FORMAT,
        "benchmarks": benchmarks,
        "items": len(items),
        "ngrams": int(len(hashes)),
        "ngram_sizes": sizes,
        "max_items_per_ngram": MAX_ITEMS_PER_NGRAM,
        "template_ngrams_dropped": templates,
        "normalisation": "pipeline.minhash.word_hashes (case, punctuation, whitespace folded)",
        "segments": "question+answer; question+choices; both without <<calc>> annotations",
        "sources": [{"file": str(p), "sha256": _file_sha256(p)} for p in paths],
        "digest": _digest(hashes, owners, prefixes, table, sizes),
    }
    with atomic_dir(out) as tmp:
        np.save(tmp / HASHES_FILE, hashes)
        np.save(tmp / ITEMS_FILE, owners)
        np.save(tmp / PREFIXES_FILE, prefixes)
        pq.write_table(table, tmp / ITEM_TABLE_FILE)
        (tmp / INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return info


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
