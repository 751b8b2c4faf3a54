"""``procmix tag``: the tags prepare gives, and bad lines quarantined as prepare does."""

from __future__ import annotations

import gzip
import json

import pyarrow.parquet as pq
import pytest

from procmix_cli import main
from support.data import prepare_quietly

PLANTED = [
    b'{"id": "cut-short", "text": "Run tar -xzf to unpack',  # malformed_json
    b'{"id": "no-text", "body": "the text is elsewhere"}',  # missing_text
]


@pytest.fixture()
def planted(small_inputs, tmp_path):
    """A real JSONL file (small_inputs' tldr slice) with two bad lines after its tenth."""
    with gzip.open(small_inputs / "tldr.jsonl.gz", "rb") as f:
        lines = f.read().splitlines()
    path = tmp_path / "tldr_planted.jsonl"
    path.write_bytes(b"\n".join(lines[:10] + PLANTED + lines[10:]) + b"\n")
    return path, len(lines)


def test_tag_quarantines_a_malformed_line_the_way_prepare_does(planted, tmp_path, capsys):
    source, good = planted
    out = tmp_path / "tagged.jsonl.gz"
    assert main(["tag", str(source), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    quarantine_file = tmp_path / "tagged.quarantine.jsonl"
    assert f"tagged {good} documents" in printed
    reasons = "malformed_json 1, missing_text 1"
    assert f"quarantined 2 records ({reasons}) -> {quarantine_file}" in printed
    with gzip.open(out, "rt") as f:
        rows = [json.loads(line) for line in f]
    assert len(rows) == good and not {"cut-short", "no-text"} & {r["id"] for r in rows}
    quarantined = [json.loads(line) for line in quarantine_file.read_text().splitlines()]
    assert [(q["row"], q["reason"]) for q in quarantined] == [
        (10, "malformed_json"),
        (11, "missing_text"),
    ]
    assert quarantined[0]["raw"] == PLANTED[0].decode()

    # prepare, on the same file, quarantines the same rows for the same reasons.
    prepare_quietly(source, tmp_path / "prepared", workers=1, tag=False)
    ledger = pq.read_table(tmp_path / "prepared" / "quarantine").to_pylist()
    assert [(r["source_row"], r["reason"]) for r in ledger] == [
        (q["row"], q["reason"]) for q in quarantined
    ]


def test_tag_gives_the_tags_prepare_stores(small_inputs, small_corpus, tmp_path):
    out = tmp_path / "tagged.jsonl"
    assert main(["tag", str(small_inputs / "tldr.jsonl.gz"), "-o", str(out)]) == 0
    tagged = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    docs = pq.read_table(small_corpus / "docs").to_pylist()
    kept = [d for d in docs if d["source"] == "tldr"]
    assert len(kept) > 100
    for doc in kept:
        row = tagged[doc["id"]]
        assert (row["content_type"], row["task_type"]) == (doc["content_type"], doc["task_type"])
        assert row["p_procedural"] == pytest.approx(doc["p_procedural"], abs=1e-6)
        # The input's own task_type label is kept, renamed as prepare renames it.
        assert row["input_task_type"] == doc["input_task_type"] == "computing"
    assert not (tmp_path / "tagged.quarantine.jsonl").exists()
