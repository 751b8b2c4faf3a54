"""DuckDB views over a prepare output folder, and the run summary they feed."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from pipeline.atomic import atomic_path
from pipeline.decont.columns import CONTAMINATION_VIEW, CORPUS_INDEX_DIR
from pipeline.layout import Layout

# Paths are relative to the output folder: connect() points DuckDB's file search
# path there, so the folder can be moved or shared without rebuilding the views.
VIEWS = {
    "docs": "SELECT * FROM read_parquet('docs/*.parquet', union_by_name = true)",
    "ledger": "SELECT * FROM read_parquet('ledger/*.parquet')",
    "quarantine": "SELECT * EXCLUDE (raw) FROM read_parquet('quarantine/*.parquet')",
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


def connect(out: str | Path, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open ``OUT/stats.duckdb`` with the views resolving against ``OUT``."""
    layout = Layout(Path(out))
    if not layout.stats_db.exists():
        raise FileNotFoundError(
            f"{layout.stats_db} not found: is {out} the -o folder of a finished `procmix prepare`?"
        )
    con = duckdb.connect(str(layout.stats_db), read_only=read_only)
    con.execute(f"SET file_search_path = '{_quoted(layout.out.resolve())}'")
    return con


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def build_stats_db(out: Path) -> Path:
    """Create ``stats.duckdb`` holding only views (no data copied); atomically."""
    layout = Layout(out)
    with atomic_path(layout.stats_db) as tmp:
        con = duckdb.connect(str(tmp))
        try:
            con.execute(f"SET file_search_path = '{_quoted(out.resolve())}'")
            for name, sql in VIEWS.items():
                con.execute(f"CREATE VIEW {name} AS {sql}")
            if (out / CORPUS_INDEX_DIR).exists():
                con.execute(f"CREATE VIEW contamination AS {CONTAMINATION_VIEW}")
        finally:
            con.close()
    return layout.stats_db


def query(out: str | Path, sql: str) -> tuple[list[str], list[tuple]]:
    """Run ``sql`` against the views of ``out``; return column names and rows."""
    con = connect(out)
    try:
        result = con.execute(sql)
        columns = [d[0] for d in result.description] if result.description else []
        return columns, result.fetchall()
    finally:
        con.close()


def fate_counts(out: Path) -> dict:
    """Record counts by fate and by quarantine reason, from the ledger files."""
    con = duckdb.connect()
    try:
        con.execute(f"SET file_search_path = '{_quoted(out.resolve())}'")
        rows = con.execute(f"SELECT fate, reason, count(*) FROM ({VIEWS['ledger']}) GROUP BY ALL")
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


def read_summary(out: str | Path) -> dict:
    path = Layout(Path(out)).summary
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `procmix prepare ... -o {out}` first")
    return json.loads(path.read_text())
