"""procmix report: the page parses, holds nothing external, has every section, and its
tables hold the same numbers as the corpus's DuckDB views and the manifests."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter, defaultdict

import duckdb
import html5lib
import pyarrow.parquet as pq
import pytest

from mixtures.verify import verify
from pipeline.stats import connect
from procmix_cli import main
from procmix_report import build
from support.data import REPORT_SOURCES, read_jsonl_gz, write_bad_inputs

CORPUS_SECTIONS = (
    "fates",
    "quarantine",
    "composition",
    "lengths",
    "clusters",
    "confidence",
    "within",
)
MIXTURE_SECTIONS = ("targets", "task-shares", "within", "sources", "verify", "spec")


def _parse(html: str):
    """Strict WHATWG parsing: any parse error raises."""
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(html)


def _table(tree, table_id: str) -> list[list[str]]:
    table = tree.find(f".//table[@id='{table_id}']")
    assert table is not None, table_id
    return [["".join(td.itertext()) for td in tr.findall("td")] for tr in table.find("tbody")]


def _svgs(element) -> int:
    """Inline <svg> elements under ``element`` (html5lib puts them in the SVG namespace)."""
    return sum(e.tag == "{http://www.w3.org/2000/svg}svg" for e in element.iter())


def _section(tree, section: str):
    element = tree.find(f".//section[@id='{section}']")
    assert element is not None, section
    return element


def _num(cell: str) -> float | None:
    return None if cell == "—" else float(cell)


def _no_external_reference(html: str, tree) -> None:
    assert "://" not in html and "url(" not in html
    for element in tree.iter():
        for attribute in ("src", "href", "xlink:href", "action"):
            value = element.get(attribute)
            assert value is None or value.startswith("#"), (element.tag, value)
    assert tree.find(".//script") is None and tree.find(".//link") is None


@pytest.fixture(scope="module")
def corpus_html(report_corpus) -> str:
    return build(report_corpus)


def test_corpus_page_structure(report_corpus, corpus_html, tmp_path):
    tree = _parse(corpus_html)
    _no_external_reference(corpus_html, tree)
    for section in CORPUS_SECTIONS:
        element = _section(tree, section)
        if section != "quarantine" or _table(tree, "table-quarantine"):
            assert _svgs(element), section
        assert element.find(".//details/table") is not None, section
    assert tree.find(".//section[@id='contamination']") is None  # not a decontaminated corpus
    assert len(corpus_html.encode()) < 3_000_000
    assert build(report_corpus) == corpus_html  # deterministic
    assert main(["report", str(report_corpus), "-o", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").read_text() == corpus_html


def test_corpus_tables_equal_the_views(report_corpus, corpus_html, tmp_path):
    tree = _parse(corpus_html)
    con = connect(report_corpus)
    fates = defaultdict(int)
    for fate, _, records in con.execute("SELECT * FROM summary").fetchall():
        fates[fate] += records
    docs = pq.read_table(report_corpus / "docs").select(
        ["doc_key", "n_tokens", "source", "content_type", "task_type", "p_procedural"]
    )
    tokens_of = dict(zip(docs["doc_key"].to_pylist(), docs["n_tokens"].to_pylist(), strict=True))
    ledger = pq.read_table(report_corpus / "ledger").to_pylist()
    dup_tokens = Counter()
    for row in ledger:
        if row["duplicate_of"]:
            dup_tokens[row["fate"]] += tokens_of[row["duplicate_of"]]
    for fate, documents, tokens in _table(tree, "table-fates"):
        assert int(documents) == fates[fate]
        expected = sum(tokens_of.values()) if fate == "kept" else dup_tokens.get(fate)
        assert _num(tokens) == (None if fate == "quarantined" else expected)
    # The quarantine table has exactly the broken inputs written into the corpus.
    reasons = {r: int(n) for r, n in _table(tree, "table-quarantine")}
    expected = write_bad_inputs(tmp_path / "again")
    # The fixture prepares with --max-chars 20000: long real documents are too_large too.
    expected["too_large"] += sum(
        len(r["text"]) > 20000 for f in REPORT_SOURCES for r in read_jsonl_gz(f)
    )
    assert reasons == expected
    by_source = {s: (d, t) for s, d, t, *_ in con.execute("SELECT * FROM composition").fetchall()}
    found = defaultdict(lambda: [0, 0])
    for source, _, _, documents, tokens in _table(tree, "table-composition"):
        found[source][0] += int(documents)
        found[source][1] += int(tokens)
    assert {s: tuple(v) for s, v in found.items()} == by_source
    clusters = con.execute("SELECT cluster_size, clusters FROM duplicate_clusters").fetchall()
    assert [(int(a), int(b)) for a, b in _table(tree, "table-clusters")] == sorted(clusters)
    per_content = Counter(docs["content_type"].to_pylist())
    lengths, confidence = Counter(), Counter()
    for content, _, _, n in _table(tree, "table-lengths"):
        lengths[content] += int(n)
    for content, _, n in _table(tree, "table-confidence-p_procedural"):
        confidence[content] += int(n)
    assert lengths == confidence == per_content
    within = {row[0]: row for row in _table(tree, "table-within")}
    procedural = {
        t
        for t, c in zip(
            docs["task_type"].to_pylist(), docs["content_type"].to_pylist(), strict=True
        )
        if c == "procedural"
    }
    assert procedural <= set(within)
    for task in procedural:
        _, documents, sampled, embedded, vs, low, high = within[task]
        assert int(sampled) == min(int(documents), 1000) and int(embedded) <= int(sampled)
        assert 1 <= float(low) <= float(vs) <= float(high) <= 64
    con.close()


def test_contamination_section_when_the_corpus_has_the_view(report_corpus, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(report_corpus, corpus)
    # The contract the report reads: a `contamination` view with these columns
    # (prepare --decont creates it from the contam_* docs columns).
    (corpus / "decont-index").mkdir()
    rows = [("gsm8k_test", 1319, 1319, 2638, 402_311), ("arc_easy", 2376, 3, 3, 1_207)]
    con = duckdb.connect(str(corpus / "stats.duckdb"))
    con.execute(f"SET file_search_path = '{corpus}'")
    con.execute(
        "CREATE TABLE t (benchmark VARCHAR, items BIGINT, items_hit BIGINT, "
        "documents BIGINT, tokens BIGINT)"
    )
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", rows)
    con.execute(f"COPY t TO '{corpus}/decont-index/tally.parquet' (FORMAT parquet)")
    con.execute("DROP TABLE t")
    con.execute(
        "CREATE VIEW contamination AS SELECT * FROM read_parquet('decont-index/tally.parquet')"
    )
    con.close()
    html = build(corpus)
    tree = _parse(html)
    assert _svgs(_section(tree, "contamination"))
    table = [[r[0], *map(int, r[1:])] for r in _table(tree, "table-contamination")]
    assert table == sorted([list(r) for r in rows])


@pytest.fixture(scope="module")
def sweep_html(report_sweep) -> str:
    return build(report_sweep)


def test_sweep_page_structure_and_numbers(report_sweep, sweep_html):
    tree = _parse(sweep_html)
    _no_external_reference(sweep_html, tree)
    for section in MIXTURE_SECTIONS:
        assert bool(_svgs(_section(tree, section))) == (section in MIXTURE_SECTIONS[:4]), section
    assert build(report_sweep) == sweep_html
    arms = json.loads((report_sweep / "sweep.json").read_text())["arms"]
    manifests = {
        a["arm"]: json.loads((report_sweep / a["arm"] / "manifest.json").read_text()) for a in arms
    }
    targets = _table(tree, "table-targets")
    assert [r[0] for r in targets] == [a["arm"] for a in arms]
    for row in targets:
        m = manifests[row[0]]
        a, w = m["achieved"], m["achieved"]["within_diversity"]["combined"]
        expected = [
            m["spec"]["tokens"],
            a["tokens"],
            m["spec"]["procedural_share"],
            a["procedural_share"],
            m["spec"]["diversity"]["d1"],
            a["d1"],
            a.get("d1_true"),
            a["d0"],
            a["d2"],
            w["within"],
            w["vs"],
        ]
        for cell, value in zip(row[1:], expected, strict=True):
            assert _num(cell) == (None if value is None else pytest.approx(value, rel=1e-5))
    for arm, task, planned, achieved in _table(tree, "table-task-shares"):
        m = manifests[arm]
        assert float(achieved) == pytest.approx(m["achieved"]["task_shares"].get(task, 0), 1e-5)
        assert float(planned) == pytest.approx(m["solution"]["task_shares"].get(task, 0), 1e-5)
    for arm, task, documents, sampled, vs, low, high in _table(tree, "table-within"):
        within = manifests[arm]["achieved"]["within_diversity"]
        entry = within["combined"] if task.startswith("combined") else within["types"][task]
        assert [float(vs), float(low), float(high)] == pytest.approx([entry["vs"], *entry["ci"]])
        if not task.startswith("combined"):
            assert (int(documents), int(sampled)) == (entry["documents"], entry["sampled"])
    for arm, source, share in _table(tree, "table-sources"):
        assert float(share) == pytest.approx(
            manifests[arm]["achieved"]["source_shares"][source], rel=1e-5
        )
    verdicts = {r[0]: (int(r[1]), r[3]) for r in _table(tree, "table-verify")}
    assert verdicts == {k: (len(v), "pass") for k, v in verify(report_sweep).items()}
    assert "procedural_share: 0.5" in _section(tree, "spec").find(".//pre").text


def test_mixture_page_and_bad_paths(report_sweep, tmp_path, capsys):
    html = build(report_sweep / "d2")
    tree = _parse(html)
    assert _svgs(_section(tree, "within"))
    assert [r[0] for r in _table(tree, "table-targets")] == ["small-d2"]
    assert re.search(r">pass<", html)
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "r.html")]) == 2
    assert "neither a corpus folder" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing"), "-o", str(tmp_path / "r.html")]) == 2
    assert not (tmp_path / "r.html").exists()
