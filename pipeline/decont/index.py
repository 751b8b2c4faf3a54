"""Building the decontamination index: every evaluation item's word n-grams, as sorted
uint64 hashes (the format, reading and matching: ``procmix_core.decont_match``).

``n`` is chosen per benchmark: 13, or the 5th percentile of its items' length
(question + answer words) when that is shorter, never below 8.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.decont.evalsets import EvalItem, read_evalsets
from procmix_core.atomic import atomic_dir, json_text
from procmix_core.decont_match import (
    HASHES_FILE,
    INDEX_FORMAT,
    INFO_FILE,
    ITEM_TABLE_FILE,
    ITEMS_FILE,
    MIN_N,
    PREFIXES_FILE,
    DecontIndexError,
    windows,
    word_positions,
)
from procmix_core.hashing import file_sha256
from procmix_core.words import window_hashes, word_hashes

DEFAULT_N = 13
LENGTH_PERCENTILE = 5
# GSM8K's calculator annotations (``<<48/2=24>>``) appear in the benchmark's
# files but not in most copies of its solutions; both forms are indexed.
_CALC_ANNOTATION = re.compile(r"<<[^<>\n]*>>")
# An n-gram found in more items than this is template text (task instructions,
# figure code, option lists), not evidence of any one item: it is not indexed.
MAX_ITEMS_PER_NGRAM = 10

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
        "normalisation": "procmix_core.words.word_hashes (case, punctuation, whitespace folded)",
        "segments": "question+answer; question+choices; both without <<calc>> annotations",
        "sources": [{"file": str(p), "sha256": file_sha256(p)} for p in paths],
        "digest": _digest(hashes, owners, prefixes, table, sizes),
    }
    with atomic_dir(out) as tmp:
        np.save(tmp / HASHES_FILE, hashes)
        np.save(tmp / ITEMS_FILE, owners)
        np.save(tmp / PREFIXES_FILE, prefixes)
        pq.write_table(table, tmp / ITEM_TABLE_FILE)
        (tmp / INFO_FILE).write_text(json_text(info))
    return info
