"""DuckDB views over a prepare output folder, and the run summary they feed."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from pipeline.layout import Layout
from procmix_core.atomic import atomic_path
from procmix_core.decont_match import CORPUS_INDEX_DIR, INFO_FILE, ITEM_TABLE_FILE
from procmix_core.layout import (
    DOCS_DIR,
    LEDGER_DIR,
    PARQUET_GLOB,
    QUARANTINE_DIR,
    STATS_DB,
    SUMMARY_FILE,
)
from procmix_core.storage import Location, Workspace, location_of

# Paths are relative to the output folder: connect() points DuckDB's file search
# path there, so the folder can be moved or shared without rebuilding the views.
# Object storage has no search path: there ``{root}`` is the folder's URL, and
# DuckDB reads it through the fsspec filesystem registered on the connection
# (httpfs is not used: it is an extension DuckDB downloads, and runs are offline).
VIEWS = {
    "docs": (
        f"SELECT * FROM read_parquet('{{root}}{DOCS_DIR}/{PARQUET_GLOB}', union_by_name = true)"
    ),
    "ledger": f"SELECT * FROM read_parquet('{{root}}{LEDGER_DIR}/{PARQUET_GLOB}')",
    "quarantine": (
        f"SELECT * EXCLUDE (raw) FROM read_parquet('{{root}}{QUARANTINE_DIR}/{PARQUET_GLOB}')"
    ),
    "summary": """
        SELECT fate, reason, count(*) AS records
        FROM ledger GROUP BY fate, reason ORDER BY records DESC, fate, reason""",
    "composition": """
        SELECT source, count(*) AS documents, sum(n_tokens) AS tokens,
               round(sum(n_chars) / 1e6, 3) AS mchars,
               round(100 * sum(n_tokens) / sum(sum(n_tokens)) OVER (), 2) AS token_pct
        FROM docs GROUP BY source ORDER BY tokens DESC""",
    "fates_by_file": """
        SELECT source_file, fate, count(*) AS records
        FROM ledger GROUP BY source_file, fate ORDER BY source_file, fate""",
    "duplicate_clusters": """
        SELECT cluster_size, count(*) AS clusters
        FROM docs WHERE cluster_size > 1 GROUP BY cluster_size ORDER BY cluster_size""",
}


# The ``contamination`` view of a checked corpus: per benchmark of the index it carries,
# items, items hit, and the documents and tokens that hit it.
CONTAMINATION_VIEW = f"""
    WITH items AS (
        SELECT * FROM read_parquet('{{root}}{CORPUS_INDEX_DIR}/{ITEM_TABLE_FILE}')
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


# What `procmix stats` shows first on a tagged corpus: kept documents and tokens by
# content type x task type, the largest content type first. A query, not a view:
# untagged corpora have no such columns.
TYPE_COMPOSITION = """
    SELECT content_type, task_type, count(*) AS documents, sum(n_tokens) AS tokens,
           round(100 * sum(n_tokens) / sum(sum(n_tokens)) OVER (), 2) AS token_pct
    FROM docs GROUP BY content_type, task_type
    ORDER BY sum(sum(n_tokens)) OVER (PARTITION BY content_type) DESC, content_type,
             tokens DESC, task_type"""


def _quoted(text: str | Path) -> str:
    return str(text).replace("'", "''")


def _point_at(con: duckdb.DuckDBPyConnection, out: Location) -> str:
    """Let ``con`` read under ``out``; return the prefix the views' paths take there."""
    if out.remote:
        con.register_filesystem(out.fs)
        return _quoted(out.url.rstrip("/") + "/")
    con.execute(f"SET file_search_path = '{_quoted(out.url)}'")
    return ""


def _create_views(con: duckdb.DuckDBPyConnection, out: Location, checked: bool) -> None:
    """The views; ``contamination`` too when the corpus was checked (carries its index)."""
    root = _point_at(con, out)
    views = {**VIEWS, "contamination": CONTAMINATION_VIEW} if checked else VIEWS
    for name, sql in views.items():
        con.execute(f"CREATE VIEW {name} AS {sql.replace('{root}', root)}")


def connect(
    out: str | Path | Location, read_only: bool = True, storage_options: dict | None = None
) -> duckdb.DuckDBPyConnection:
    """Open ``OUT/stats.duckdb`` with the views resolving against ``OUT``.

    On object storage the views are made in memory, over the folder's URL:
    nothing is downloaded but what a query reads.
    """
    out = location_of(out, storage_options)
    if out.remote:
        out.check()
        if not out.join(SUMMARY_FILE).exists():
            raise FileNotFoundError(
                f"{out.url} holds no {SUMMARY_FILE}: is it the -o of a finished `procmix prepare`?"
            )
        con = duckdb.connect()
        _create_views(con, out, out.join(CORPUS_INDEX_DIR, INFO_FILE).exists())
        return con
    stats_db = Layout(out.local_path()).stats_db
    if not stats_db.exists():
        raise FileNotFoundError(
            f"{stats_db} not found: is {out.url} the -o folder of a finished `procmix prepare`?"
        )
    con = duckdb.connect(str(stats_db), read_only=read_only)
    _point_at(con, out)
    return con


def build_stats_db(space: Workspace) -> None:
    """Create ``stats.duckdb`` holding only views (no data copied), atomically; for a
    folder on object storage its views name the folder's URL, and it is uploaded whole."""
    with atomic_path(Layout(space.local).stats_db) as tmp:
        con = duckdb.connect(str(tmp))
        try:
            _create_views(con, space.remote, (space.local / CORPUS_INDEX_DIR).exists())
        finally:
            con.close()
    space.publish([STATS_DB])


def query(
    out: str | Path | Location, sql: str, storage_options: dict | None = None
) -> tuple[list[str], list[tuple]]:
    """Run ``sql`` against the views of ``out``; return column names and rows."""
    con = connect(out, storage_options=storage_options)
    try:
        result = con.execute(sql)
        columns = [d[0] for d in result.description] if result.description else []
        return columns, result.fetchall()
    finally:
        con.close()


def type_composition(
    out: str | Path | Location, storage_options: dict | None = None
) -> tuple[list[str], list[tuple]] | None:
    """Documents and tokens by content type x task type, or None for an untagged corpus."""
    columns, _ = query(out, "SELECT * FROM docs LIMIT 0", storage_options)
    if not {"content_type", "task_type"} <= set(columns):
        return None
    return query(out, TYPE_COMPOSITION, storage_options)


def fate_counts(out: Location) -> dict:
    """Record counts by fate and by quarantine reason, from the ledger files."""
    con = duckdb.connect()
    try:
        ledger = VIEWS["ledger"].replace("{root}", _point_at(con, out))
        rows = con.execute(f"SELECT fate, reason, count(*) FROM ({ledger}) GROUP BY ALL")
        counts = {"fates": {}, "quarantined_by_reason": {}}
        for fate, reason, n in rows.fetchall():
            counts["fates"][fate] = counts["fates"].get(fate, 0) + n
            if reason:
                counts["quarantined_by_reason"][reason] = n
        return counts
    finally:
        con.close()


def read_summary(out: str | Path | Location, storage_options: dict | None = None) -> dict:
    summary = location_of(out, storage_options).join(SUMMARY_FILE)
    summary.check()
    if not summary.exists():
        raise FileNotFoundError(
            f"{summary.url} not found: run `procmix prepare ... -o {out}` first"
        )
    return json.loads(summary.read_text())
