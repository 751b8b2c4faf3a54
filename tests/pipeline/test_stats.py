"""``procmix stats``: content type x task type first (tokens and documents), then sources."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from pipeline.stats import type_composition
from procmix_cli import main


def test_stats_shows_content_and_task_type_before_sources(small_corpus, capsys):
    assert main(["stats", str(small_corpus)]) == 0
    out = capsys.readouterr().out
    by_type = out.index("kept documents by content type and task type")
    assert out.index("documents in") < by_type < out.index("kept documents by source")

    columns, rows = type_composition(small_corpus)
    assert columns == ["content_type", "task_type", "documents", "tokens", "token_pct"]
    docs = pq.read_table(small_corpus / "docs", columns=["content_type", "task_type", "n_tokens"])
    expected: dict[tuple[str, str], list[int]] = {}
    for row in docs.to_pylist():
        counts = expected.setdefault((row["content_type"], row["task_type"]), [0, 0])
        counts[0] += 1
        counts[1] += row["n_tokens"]
    assert {(c, t): [d, n] for c, t, d, n, _ in rows} == expected
    assert sum(r[4] for r in rows) == pytest.approx(100, abs=0.01 * len(rows))
    # The content type with most tokens comes first, each one's task types by tokens.
    totals: dict[str, int] = {}
    for c, _, _, n, _ in rows:
        totals[c] = totals.get(c, 0) + n
    assert [c for c, *_ in rows] == sorted(
        (c for c, *_ in rows), key=lambda c: -totals[c]
    )
    for content in totals:
        tokens = [n for c, _, _, n, _ in rows if c == content]
        assert tokens == sorted(tokens, reverse=True)


def test_stats_of_an_untagged_corpus_says_so(small_inputs, tmp_path, capsys):
    out = tmp_path / "untagged"
    assert main(["prepare", str(small_inputs), "-o", str(out), "--no-tag", "--workers", "1"]) == 0
    capsys.readouterr()
    assert type_composition(out) is None
    assert main(["stats", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "untagged corpus (prepare --no-tag)" in printed and "by source" in printed
