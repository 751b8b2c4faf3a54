"""The corpus page: what ``prepare`` kept, dropped and tagged, from the corpus's
DuckDB views (``stats.duckdb``) and ``summary.json``."""

from __future__ import annotations

from pathlib import Path

import duckdb

from classifiers.taxonomy import CONTENT_LABELS, PROCEDURAL, TASK_LABELS
from mixtures import diversity_within
from pipeline.schema import FATES
from pipeline.stats import connect, read_summary
from procmix_report import Page, Section, Table, svg

UNTAGGED = "untagged"
CONFIDENCE_BINS = 20
# Tokens of a dropped duplicate are those of the kept document it duplicates
# (its own text is not stored); quarantined records were never tokenised.
FATES_SQL = """
    SELECT l.fate, count(*) AS documents,
           CASE WHEN l.fate = 'kept' THEN sum(k.n_tokens)
                WHEN l.fate LIKE '%duplicate' THEN sum(d.n_tokens) END AS tokens
    FROM ledger l
    LEFT JOIN (SELECT doc_key, n_tokens FROM docs) k ON l.fate = 'kept' AND k.doc_key = l.doc_key
    LEFT JOIN (SELECT doc_key, n_tokens FROM docs) d ON d.doc_key = l.duplicate_of
    GROUP BY l.fate"""


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[list]:
    return [list(r) for r in con.execute(sql).fetchall()]


def _ordered(present: set[str], order: tuple[str, ...]) -> list[str]:
    return [x for x in order if x in present] + sorted(present - set(order))


def _fates(con: duckdb.DuckDBPyConnection) -> Section:
    found = {r[0]: r for r in _rows(con, FATES_SQL)}
    rows = [found[f] for f in _ordered(set(found), FATES)]
    docs = {(r[0], "documents"): float(r[1]) for r in rows}
    tokens = {(r[0], "tokens"): float(r[2] or 0) for r in rows}
    return Section(
        "fates",
        "Documents and tokens by fate",
        "Every input record has one ledger row. Tokens of a dropped duplicate are those of "
        "the kept document it duplicates; quarantined records are not tokenised.",
        [
            svg.stacked_bars([r[0] for r in rows], ["documents"], docs, "documents by fate"),
            svg.stacked_bars([r[0] for r in rows], ["tokens"], tokens, "tokens by fate"),
        ],
        [Table("table-fates", ["fate", "documents", "tokens"], rows)],
    )


def _quarantine(con: duckdb.DuckDBPyConnection) -> Section:
    rows = _rows(con, "SELECT reason, count(*) FROM quarantine GROUP BY reason ORDER BY 2 DESC, 1")
    caption = "Unusable records by reason (each kept in quarantine/ with its bytes)."
    figures = []
    if rows:
        values = {(r[0], "records"): float(r[1]) for r in rows}
        figures.append(svg.stacked_bars([r[0] for r in rows], ["records"], values, "quarantine"))
    else:
        caption += " No record was quarantined."
    return Section(
        "quarantine",
        "Quarantine reasons",
        caption,
        figures,
        [Table("table-quarantine", ["reason", "records"], rows)],
    )


def _composition(con: duckdb.DuckDBPyConnection, tagged: bool) -> Section:
    labels = "content_type, task_type" if tagged else f"'{UNTAGGED}', '{UNTAGGED}'"
    rows = _rows(
        con,
        f"SELECT source, {labels}, count(*), sum(n_tokens) FROM docs GROUP BY ALL ORDER BY ALL",
    )
    contents = _ordered({r[1] for r in rows}, CONTENT_LABELS)
    tasks = _ordered({r[2] for r in rows}, TASK_LABELS)
    by_task: dict[tuple[str, str], float] = {}
    by_source: dict[tuple[str, str], float] = {}
    source_tokens: dict[str, float] = {}
    for source, content, task, _, tokens in rows:
        by_task[(task, content)] = by_task.get((task, content), 0.0) + tokens
        by_source[(source, task)] = by_source.get((source, task), 0.0) + tokens
        source_tokens[source] = source_tokens.get(source, 0.0) + tokens
    sources = sorted(source_tokens, key=lambda s: (-source_tokens[s], s))
    return Section(
        "composition",
        "Composition: source × content type × task type",
        "Tokens of kept documents per task type, stacked by content type; then per source, "
        "stacked by task type." + ("" if tagged else " The corpus is untagged (prepare --no-tag)."),
        [
            svg.stacked_bars(tasks, contents, by_task, "tokens by task type and content type"),
            svg.stacked_bars(sources, tasks, by_source, "tokens by source and task type"),
        ],
        [
            Table(
                "table-composition",
                ["source", "content_type", "task_type", "documents", "tokens"],
                rows,
            )
        ],
    )


def _lengths(con: duckdb.DuckDBPyConnection, tagged: bool) -> Section:
    label = "content_type" if tagged else f"'{UNTAGGED}'"
    rows = _rows(
        con,
        f"SELECT {label}, floor(log2(greatest(n_tokens, 1)))::INTEGER AS bin, count(*) "
        "FROM docs GROUP BY ALL ORDER BY ALL",
    )
    bins = sorted({r[1] for r in rows})
    contents = _ordered({r[0] for r in rows}, CONTENT_LABELS)
    values = {(f"{2**b:,}", c): float(n) for c, b, n in rows}
    table = [[c, 2**b, 2 ** (b + 1) - 1, n] for c, b, n in rows]
    return Section(
        "lengths",
        "Document length",
        "Kept documents per length bin (tokens, bins doubling in width, labelled by their "
        "lower end; log scales), by content type.",
        [svg.grouped_bars([f"{2**b:,}" for b in bins], contents, values, "lengths", log_y=True)],
        [Table("table-lengths", ["content_type", "tokens_from", "tokens_to", "documents"], table)],
    )


def _clusters(con: duckdb.DuckDBPyConnection) -> Section:
    rows = _rows(con, "SELECT cluster_size, clusters FROM duplicate_clusters ORDER BY 1")
    values = {(str(s), "clusters"): float(n) for s, n in rows}
    return Section(
        "clusters",
        "Duplicate cluster sizes",
        "Near-duplicate clusters by size (the kept document and those it stands for; log scale).",
        [svg.grouped_bars([str(r[0]) for r in rows], ["clusters"], values, "clusters", True)]
        if rows
        else [],
        [Table("table-clusters", ["cluster_size", "clusters"], rows)],
    )


def _confidence(con: duckdb.DuckDBPyConnection) -> Section:
    tables, figures = [], []
    for column, series in (("p_procedural", "content_type"), ("task_p", "task_type")):
        rows = _rows(
            con,
            f"SELECT {series}, least(floor({column} * {CONFIDENCE_BINS}), "
            f"{CONFIDENCE_BINS - 1})::INTEGER AS bin, count(*) FROM docs GROUP BY ALL ORDER BY ALL",
        )
        names = _ordered({r[0] for r in rows}, CONTENT_LABELS + TASK_LABELS)
        groups = [f"{b / CONFIDENCE_BINS:.2f}" for b in range(CONFIDENCE_BINS)]
        values = {(f"{b / CONFIDENCE_BINS:.2f}", s): float(n) for s, b, n in rows}
        figures.append(svg.grouped_bars(groups, names, values, column))
        tables.append(
            Table(
                f"table-confidence-{column}",
                [series, f"{column}_from", "documents"],
                [[s, b / CONFIDENCE_BINS, n] for s, b, n in rows],
                f"{column} by predicted {series}",
            )
        )
    return Section(
        "confidence",
        "Classifier confidence",
        f"Documents by p_procedural (by predicted content type), then by task_p (the top task "
        f"type's probability, by task type), in bins of 1/{CONFIDENCE_BINS}.",
        figures,
        tables,
    )


def _contamination(con: duckdb.DuckDBPyConnection) -> Section:
    """Per benchmark, from the ``contamination`` view a decontaminated corpus has."""
    rows = _rows(
        con,
        "SELECT benchmark, items, items_hit, documents, tokens FROM contamination ORDER BY 1",
    )
    values = {}
    for benchmark, items, hit, _, _ in rows:
        values[(benchmark, "items found in the corpus")] = float(hit)
        values[(benchmark, "items not found")] = float(items - hit)
    return Section(
        "contamination",
        "Contamination per benchmark",
        "Evaluation items whose n-grams the corpus holds, and the documents and tokens holding "
        "them (the contamination view).",
        [
            svg.stacked_bars(
                [r[0] for r in rows],
                ["items found in the corpus", "items not found"],
                values,
                "contamination",
            )
        ],
        [
            Table(
                "table-contamination",
                ["benchmark", "items", "items_hit", "documents", "tokens"],
                rows,
            )
        ],
    )


def within_section(figures: dict, id_suffix: str = "") -> Section:
    """Within-type diversity figures of one corpus or mixture as a chart and a table."""
    types = {t: figures["types"][t] for t in _ordered(set(figures["types"]), TASK_LABELS)}
    points = {(t, "VS"): (e["vs"], *e["ci"]) for t, e in types.items() if e["vs"] is not None}
    rows = [
        [t, e["documents"], e["sampled"], e["embedded"], e["vs"], *(e["ci"] or [None, None])]
        for t, e in types.items()
    ]
    c = figures["combined"]
    rows.append(["combined (D1 × within)", None, None, None, c["vs"], *c["ci"]])
    return Section(
        f"within{id_suffix}",
        "Within-type diversity",
        f"Vendi score of each procedural task type's documents (a seeded, source-stratified "
        f"sample of up to {figures['sample_per_type']:,}, seed {figures['seed']}; "
        f"{figures['model']['dims']}-dimensional LSA embeddings; 95% interval from "
        f"{figures['bootstrap']} bootstrap resamples, re-centred on the estimate). "
        "1 = all alike. Combined VS = D1 × "
        f"{c['within']:g} = {c['vs']:g} (D1 {c['d1']:g}).",
        [svg.interval_dots([k[0] for k in points], ["VS"], points, "within")],
        [
            Table(
                "table-within",
                ["task_type", "documents", "sampled", "embedded", "vs", "ci_low", "ci_high"],
                rows,
            )
        ],
    )


def _within(con: duckdb.DuckDBPyConnection, sample: int, seed: int) -> Section:
    shares = dict(
        con.execute(
            "SELECT task_type, sum(n_tokens) / sum(sum(n_tokens)) OVER () FROM docs "
            f"WHERE content_type = '{PROCEDURAL}' GROUP BY task_type ORDER BY task_type"
        ).fetchall()
    )
    relation = "(SELECT doc_key, source, content_type, task_type, text FROM docs)"
    return within_section(diversity_within.measure(con, relation, shares, sample, seed))


def corpus_page(path: Path, sample: int, seed: int) -> Page:
    summary = read_summary(path)
    con = connect(path)
    try:
        columns = {r[0] for r in con.execute("DESCRIBE docs").fetchall()}
        tagged = {"content_type", "task_type", "p_procedural", "task_p"} <= columns
        views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
        sections = [
            _fates(con),
            _quarantine(con),
            _composition(con, tagged),
            _lengths(con, tagged),
            _clusters(con),
        ]
        if tagged:
            sections += [_confidence(con), _within(con, sample, seed)]
        # Decontaminated corpora (prepare --decont) have this view; others get no section.
        if "contamination" in views:
            sections.append(_contamination(con))
        kept, tokens = con.execute("SELECT count(*), sum(n_tokens) FROM docs").fetchone()
    finally:
        con.close()
    models = summary.get("classifiers") or {}
    facts = [
        ("corpus", str(path)),
        ("input records", f"{summary.get('documents_in', 0):,}"),
        ("kept documents", f"{kept:,}"),
        ("tokens (estimated)", f"{int(tokens or 0):,}"),
        ("input files", f"{summary.get('files', 0):,}"),
        ("procmix", str(summary.get("procmix", ""))),
    ] + [
        (f"{role} model", f"{m.get('model')} (sha256 {str(m.get('sha256'))[:12]})")
        for role, m in sorted(models.items())
        if isinstance(m, dict)
    ]
    return Page(f"Corpus {path.name}", "procmix corpus report", facts, sections)
