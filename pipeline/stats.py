"""DuckDB views over a prepare output folder, and the run summary they feed."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from pipeline.layout import Layout
from procmix_core.atomic import atomic_path
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


def _create_views(con: duckdb.DuckDBPyConnection, out: Location) -> None:
    root = _point_at(con, out)
    for name, sql in VIEWS.items():
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
        _create_views(con, out)
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
            _create_views(con, space.remote)
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


def format_table(columns: list[str], rows: list[tuple], max_width: int = 60) -> str:
    """A plain aligned text table."""
    cells = [[_cell(v, max_width) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)


def _cell(value: object, max_width: int) -> str:
    text = "NULL" if value is None else str(value).replace("\n", "\\n")
    return text if len(text) <= max_width else text[: max_width - 1] + "…"


def read_summary(out: str | Path | Location, storage_options: dict | None = None) -> dict:
    summary = location_of(out, storage_options).join(SUMMARY_FILE)
    summary.check()
    if not summary.exists():
        raise FileNotFoundError(
            f"{summary.url} not found: run `procmix prepare ... -o {out}` first"
        )
    return json.loads(summary.read_text())
