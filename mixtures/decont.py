"""Decontamination of mixtures: the spec's ``decontaminate`` excludes flagged documents
before solving, the manifest records what was excluded and what the mixture holds,
and ``verify`` rematches the shards' text against the index.

The flags are the corpus's ``contam_*`` columns (``procmix_core.decont_match.DECONT_SCHEMA``),
computed against the index the corpus carries in ``decont-index/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mixtures import MANIFEST
from mixtures.spec import ALL_BENCHMARKS, Decontaminate
from procmix_core.decont_match import (
    BATCH_ROWS,
    CORPUS_INDEX_DIR,
    DecontIndex,
    DecontIndexError,
    Tally,
    contam_columns,
    corpus_index,
)

# The docs columns exclusion reads (with n_tokens); contam_longest is not needed.
FLAG_COLUMNS = ["contam_benchmarks", "contam_items", "contam_ngrams"]


class DecontError(ValueError):
    """A ``decontaminate`` the corpus cannot serve; the message says what to do."""


def excluded_mask(
    benchmark_lists: pa.Array | pa.ChunkedArray,
    ngrams: np.ndarray,
    benchmarks: tuple[str, ...],
    max_matched_ngrams: int,
) -> np.ndarray:
    """The rule, for exclusion and for verify alike: a document is excluded when it hits
    one of ``benchmarks`` and its matched n-grams (``contam_ngrams``, over every
    benchmark) are more than ``max_matched_ngrams``."""
    if isinstance(benchmark_lists, pa.ChunkedArray):
        benchmark_lists = benchmark_lists.combine_chunks()
    flat = pc.list_flatten(benchmark_lists)
    parent = pc.list_parent_indices(benchmark_lists).to_numpy()
    listed = pc.is_in(flat, pa.array(list(benchmarks), pa.string())).to_numpy(zero_copy_only=False)
    hits = np.bincount(parent[listed], minlength=len(benchmark_lists)) > 0
    return hits & (np.asarray(ngrams) > max_matched_ngrams)


def _tally(index: DecontIndex, table: pa.Table) -> Tally:
    tally = Tally(index)
    tally.add(table)
    return tally


@dataclass(frozen=True)
class Decontamination:
    """What ``decontaminate`` did to one corpus.

    ``flagged`` holds the contamination columns and ``n_tokens`` of the candidates
    (documents left after exclusion) that hit any benchmark, ``flagged_at`` their
    positions among the candidates: enough to say which items a selection holds.
    """

    index: DecontIndex | None
    benchmarks: tuple[str, ...]  # excluded
    max_matched_ngrams: int
    in_corpus: Tally | None
    excluded: Tally | None
    documents_excluded: int
    tokens_excluded: int
    flagged: pa.Table | None
    flagged_at: np.ndarray

    def exclusion(self) -> dict:
        """The index and what was excluded, in total (the manifest entry without the
        per-benchmark table)."""
        if self.index is None:
            return {"index": None}
        return {
            "index": {"path": str(self.index.path), "digest": self.index.digest},
            "excluded_benchmarks": list(self.benchmarks),
            "max_matched_ngrams": self.max_matched_ngrams,
            "documents_excluded": self.documents_excluded,
            "tokens_excluded": self.tokens_excluded,
        }

    def manifest_entry(self, copies: np.ndarray) -> dict:
        """The manifest's ``decontamination``: :meth:`exclusion` and, per benchmark,
        items found in the corpus and in the selection ``copies``, documents and tokens
        excluded."""
        if self.index is None:
            return {**self.exclusion(), "benchmarks": {}}
        taken = self.flagged.filter(pa.array(copies[self.flagged_at] > 0))
        in_mixture = _tally(self.index, taken).items_hit
        benchmarks = {}
        for name, entry in self.in_corpus.benchmarks().items():
            benchmarks[name] = {
                "items": entry["items"],
                "items_in_corpus": entry["items_hit"],
                "items_in_mixture": len(in_mixture.get(name, ())),
                "excluded": name in self.benchmarks,
                "documents_excluded": self.excluded.documents.get(name, 0),
                "tokens_excluded": self.excluded.tokens.get(name, 0),
            }
        return {**self.exclusion(), "benchmarks": benchmarks}


def _benchmarks(asked: Decontaminate, index: DecontIndex) -> tuple[str, ...]:
    if asked.benchmarks == ALL_BENCHMARKS:
        return tuple(index.benchmarks)
    unknown = sorted(set(asked.benchmarks) - set(index.benchmarks))
    if unknown:
        raise DecontError(
            f"decontaminate.benchmarks: {unknown} not in the corpus's index "
            f"({index.path}); it has {index.benchmarks}"
        )
    return asked.benchmarks


def checked_index(root: Path) -> DecontIndex | None:
    """The index a checked corpus carries, or None for a corpus never checked."""
    try:
        return corpus_index(root)
    except DecontIndexError as e:
        raise DecontError(f"{root}: its {CORPUS_INDEX_DIR}/ is not usable: {e}") from e


def decontaminate(
    root: Path, index: DecontIndex | None, asked: Decontaminate | None, docs: pa.Table
) -> tuple[np.ndarray, Decontamination]:
    """Which of ``docs`` (``n_tokens`` and, for a checked corpus, ``FLAG_COLUMNS``) to
    exclude, and the record of it. ``asked`` None: every benchmark of the corpus's
    index, when it has one; nothing otherwise."""
    keep = np.ones(docs.num_rows, dtype=bool)
    if index is None:
        if asked is not None:
            raise DecontError(
                f"decontaminate: {root} was not checked against an evaluation-set index (no "
                f"{CORPUS_INDEX_DIR}/): prepare it with --decont INDEX, or write a checked copy "
                "with `procmix decont tag CORPUS --index INDEX -o NEW`, or drop the key"
            )
        return keep, Decontamination(None, (), 0, None, None, 0, 0, None, np.zeros(0, np.int64))
    unchecked = docs["contam_items"].null_count
    if unchecked:
        raise DecontError(
            f"{root} carries {CORPUS_INDEX_DIR}/ but {unchecked:,} documents have no "
            "contamination columns: re-check it with `procmix decont tag CORPUS --index "
            f"{root / CORPUS_INDEX_DIR} -o NEW`"
        )
    asked = asked or Decontaminate()
    benchmarks = _benchmarks(asked, index)
    ngrams = docs["contam_ngrams"].to_numpy()
    drop = excluded_mask(docs["contam_benchmarks"], ngrams, benchmarks, asked.max_matched_ngrams)
    keep = ~drop
    tallied = docs.select(["n_tokens", *FLAG_COLUMNS])
    candidates = tallied.filter(pa.array(keep))
    flagged_at = np.flatnonzero(candidates["contam_ngrams"].to_numpy() > 0)
    record = Decontamination(
        index=index,
        benchmarks=benchmarks,
        max_matched_ngrams=asked.max_matched_ngrams,
        in_corpus=_tally(index, tallied),
        excluded=_tally(index, tallied.filter(pa.array(drop))),
        documents_excluded=int(drop.sum()),
        tokens_excluded=int(docs["n_tokens"].to_numpy()[drop].sum()),
        flagged=candidates.take(pa.array(flagged_at)),
        flagged_at=flagged_at,
    )
    return keep, record


def recorded_index(mixdir: Path) -> Path | None:
    """The index a mixture's manifest records (its corpus's ``decont-index/``); None when
    ``mixdir`` is not a mixture (no manifest)."""
    if not (mixdir / MANIFEST).exists():
        return None
    entry = json.loads((mixdir / MANIFEST).read_text()).get("decontamination") or {}
    if not entry.get("index"):
        raise DecontIndexError(
            f"{mixdir / MANIFEST} records no decontamination index (its corpus was not "
            "checked): give --index INDEX"
        )
    return Path(entry["index"]["path"])


def rematch(
    mixdir: Path, index: DecontIndex, benchmarks: tuple[str, ...], max_matched_ngrams: int
) -> tuple[Tally, int, str | None]:
    """The shards' text matched anew against ``index``, batch by batch: the tally of what
    they hold, how many of their rows :func:`excluded_mask` excludes, and one such
    row's doc_key."""
    tally, hits, example = Tally(index), 0, None
    for shard in sorted(mixdir.glob("shard-*.parquet")):
        for batch in pq.ParquetFile(shard).iter_batches(
            BATCH_ROWS, columns=["doc_key", "text", "n_tokens"]
        ):
            columns = contam_columns(index, batch["text"])
            tally.add(pa.table({"n_tokens": batch["n_tokens"], **columns}))
            bad = excluded_mask(
                columns["contam_benchmarks"],
                columns["contam_ngrams"].to_numpy(),
                benchmarks,
                max_matched_ngrams,
            )
            if bad.any() and example is None:
                example = batch["doc_key"][int(np.flatnonzero(bad)[0])].as_py()
            hits += int(bad.sum())
    return tally, hits, example
