"""The ``contam_*`` docs columns (``schema.DECONT_SCHEMA``) and their per-benchmark tally.

One tally serves prepare's summary, ``decont tag``, ``decont report`` and,
through :func:`tally_files`, any folder of Parquet files with a ``text``
column (a mixture's shards): it reads the columns when a file has them, and
matches the text against the index when it does not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.decont.index import DecontIndex, load_index
from pipeline.schema import DECONT_SCHEMA

BATCH_ROWS = 1024
# Where a checked corpus keeps its copy of the index it was checked against.
CORPUS_INDEX_DIR = "decont-index"


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


# The ``contamination`` DuckDB view of a checked corpus (paths relative to it).
CONTAMINATION_VIEW = f"""
    WITH items AS (
        SELECT * FROM read_parquet('{CORPUS_INDEX_DIR}/items.parquet')
    ), hit_items AS (
        SELECT i.benchmark, count(DISTINCT h.item_id) AS items_hit
        FROM (SELECT unnest(contam_items) AS item_id FROM docs) h JOIN items i USING (item_id)
        GROUP BY i.benchmark
    ), hit_docs AS (
        SELECT benchmark, count(*) AS documents, sum(n_tokens) AS tokens
        FROM (SELECT unnest(contam_benchmarks) AS benchmark, n_tokens FROM docs)
        GROUP BY benchmark
    )
    SELECT benchmark, count(*) AS items, any_value(coalesce(items_hit, 0)) AS items_hit,
           any_value(coalesce(documents, 0)) AS documents,
           any_value(coalesce(tokens, 0))::BIGINT AS tokens
    FROM items LEFT JOIN hit_items USING (benchmark) LEFT JOIN hit_docs USING (benchmark)
    GROUP BY benchmark ORDER BY benchmark"""
