"""procmix prepare end to end on real sample data plus broken inputs."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from pipeline import schema
from pipeline.minhash import shingles
from pipeline.prepare import PrepareError
from pipeline.stats import query
from procmix_cli import main
from support.data import prepare_quietly, write_bad_inputs

SMALL_SOURCES = ["theolb.jsonl.gz", "strunk_pg37134.jsonl.gz", "healthy_life_pg10632.jsonl.gz"]
# GSM8K rows 7473.. are the test split and 8792.. the same problems in socratic form:
# natural near-duplicates, as the data README says.
GSM8K_SLICES = [(7473, 8000), (8792, 9319)]


def build_corpus(folder: Path, data_dir: Path) -> int:
    """Real documents + every kind of bad input; returns the number of input records."""
    folder.mkdir(parents=True)
    records = 0
    for name in SMALL_SOURCES:
        shutil.copy(data_dir / name, folder / name)
        with gzip.open(data_dir / name, "rb") as f:
            records += sum(1 for _ in f)
    with gzip.open(data_dir / "gsm8k.jsonl.gz", "rb") as f:
        lines = f.readlines()
    chosen = [line for lo, hi in GSM8K_SLICES for line in lines[lo:hi]]
    (folder / "nested").mkdir()
    with gzip.open(folder / "nested" / "gsm8k_slice.jsonl.gz", "wb") as f:
        f.writelines(chosen)
    records += len(chosen)
    expected_bad = write_bad_inputs(folder / "bad")
    # mixed.jsonl: 2 good + 9 bad lines; misnamed 2 good; same_ids 1 good; truncated
    # files give their readable lines (counted from the ledger) and one record each.
    return records + sum(expected_bad.values()) + 5


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, data_dir) -> Path:
    folder = tmp_path_factory.mktemp("corpus") / "in"
    build_corpus(folder, data_dir)
    return folder


def _prepare(inputs: Path, out: Path, **settings) -> dict:
    # 20,000 characters: write_bad_inputs's too_large record is over it.
    return prepare_quietly(inputs, out, max_chars=20_000, **settings)


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "out"
    _prepare(corpus, out, workers=1)
    return out


def _digests(out: Path) -> dict[str, str]:
    files = sorted([*out.glob("docs/*.parquet"), *out.glob("ledger/*.parquet")])
    return {str(f.relative_to(out)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def test_every_input_record_has_exactly_one_ledger_row(reference, corpus):
    ledger = pq.read_table(reference / "ledger").to_pylist()
    keys = [row["doc_key"] for row in ledger]
    assert len(keys) == len(set(keys))
    good_lines = 0
    for path in corpus.rglob("*.jsonl.gz"):
        if path.parent.name != "bad":
            with gzip.open(path, "rb") as f:
                good_lines += sum(1 for line in f if line.strip())
    bad = [row for row in ledger if row["source_file"].startswith("bad/")]
    assert len(ledger) - len(bad) == good_lines
    # 12 records of mixed.jsonl (2 blank lines are not records), 2 misnamed, 1 same_ids,
    # 1 per unusable Parquet file, and each truncated stream: its readable lines + 1.
    truncated = [r for r in bad if r["source_file"].startswith("bad/truncated.jsonl")]
    assert len(bad) == 11 + 2 + 1 + 2 + len(truncated)
    assert {row["fate"] for row in ledger} <= set(schema.FATES)


def test_quarantine_reasons_and_raw_content(reference, bad_inputs):
    _, expected = bad_inputs
    files = [str(p) for p in sorted((reference / "quarantine").glob("*.parquet"))]
    found = pq.read_table(files).to_pylist()
    counts: dict[str, int] = {}
    for row in found:
        counts[row["reason"]] = counts.get(row["reason"], 0) + 1
        assert row["raw"] is not None or (reference / "quarantine" / row["raw_path"]).exists()
    assert counts == expected
    ledger = pq.read_table(reference / "ledger", filters=[("fate", "=", "quarantined")])
    assert ledger.num_rows == sum(expected.values())
    assert set(ledger["reason"].to_pylist()) == set(expected)
    # A record that parsed but failed validation keeps its user id in the ledger.
    by_reason = {r["reason"]: r["id"] for r in ledger.to_pylist()}
    assert by_reason["null_text"] == "null-text" and by_reason["too_large"] == "huge"


def test_docs_columns_and_copied_fields(reference):
    docs = pq.read_table(reference / "docs")
    for name in schema.DOCS_SCHEMA.names + ["license", "label_procedural", "input_task_type"]:
        assert name in docs.column_names, name
    rows = docs.to_pylist()
    assert all(row["n_chars"] == len(row["text"]) for row in rows)
    assert all(row["n_tokens"] >= 1 for row in rows)
    theolb = next(row for row in rows if row["source_file"] == "theolb.jsonl.gz")
    assert theolb["source"] == "theolb" and theolb["license"].startswith("CC-BY-SA")
    # Parquet input without a source field: source is the file stem.
    same_ids = [row for row in rows if row["source_file"] == "bad/same_ids.parquet"]
    assert len(same_ids) == 1 and same_ids[0]["source"] == "same_ids"


def test_repeated_user_ids_are_distinct_documents(reference):
    docs = pq.read_table(reference / "docs").to_pylist()
    same_id = next(r for r in docs if r["source_file"] == "bad/same_ids.parquet")["id"]
    holders = {r["source_file"] for r in docs if r["id"] == same_id}
    assert holders == {"bad/same_ids.parquet", "bad/mixed.jsonl"}


def test_gsm8k_socratic_copies_are_near_duplicates(reference, corpus):
    ledger = pq.read_table(reference / "ledger").to_pylist()
    by_key = {row["doc_key"]: row for row in ledger}
    with gzip.open(corpus / "nested" / "gsm8k_slice.jsonl.gz", "rt") as f:
        records = [json.loads(line) for line in f]
    text = {f"nested/gsm8k_slice.jsonl.gz:{i}": r["text"] for i, r in enumerate(records)}
    key_of_id = {r["id"]: f"nested/gsm8k_slice.jsonl.gz:{i}" for i, r in enumerate(records)}

    def jaccard(a: str, b: str) -> float:
        sa, sb = shingles(text[a]), shingles(text[b])
        return len(sa & sb) / len(sa | sb)

    # Recall: every test/socratic pair at true Jaccard >= 0.88 ends in one cluster
    # (16 bands x 8 rows miss such a pair with probability < 1e-4).
    close_pairs = 0
    for user_id, key in key_of_id.items():
        twin = key_of_id.get(user_id.replace(":test:", ":test_socratic:"))
        if ":test:" in user_id and twin and jaccard(key, twin) >= 0.88:
            close_pairs += 1
            assert by_key[key]["cluster_id"] == by_key[twin]["cluster_id"]
    assert close_pairs >= 2
    # Precision: every near duplicate is at or above the 0.8 threshold, exactly.
    near = [r for r in ledger if r["fate"] == schema.FATE_NEAR_DUPLICATE]
    assert near
    for row in near:
        representative = by_key[row["duplicate_of"]]
        assert representative["fate"] == schema.FATE_KEPT
        assert representative["cluster_id"] == row["cluster_id"]
        if row["doc_key"] in text and row["duplicate_of"] in text:
            assert jaccard(row["doc_key"], row["duplicate_of"]) >= 0.8
    docs = pq.read_table(reference / "docs", columns=["doc_key", "cluster_size"]).to_pylist()
    sizes = {r["doc_key"]: r["cluster_size"] for r in docs}
    assert all(sizes[r["duplicate_of"]] >= 2 for r in near)


def test_duckdb_views_and_summary(reference):
    columns, rows = query(reference, "SELECT fate, sum(records) FROM summary GROUP BY fate")
    fates = dict(rows)
    summary_columns, summary_rows = query(reference, "SELECT count(*) FROM docs")
    assert fates["kept"] == summary_rows[0][0]
    _, rows = query(reference, "SELECT sum(documents) FROM composition")
    assert rows[0][0] == fates["kept"]
    # The database holds views only: reading it from another folder still works.
    con = duckdb.connect(str(reference / "stats.duckdb"), read_only=True)
    tables = con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall()
    assert {t for _, t in tables} == {"VIEW"}
    con.close()


def test_per_rank_stats_count_their_own_rank_only(reference):
    # The reference ran its ranks one after another in one process (workers=1).
    written = 0
    for path in sorted((reference / "_logs" / "ingest" / "stats").glob("*.json")):
        for step in json.loads(path.read_text()):
            if step["name"].endswith("dedup keys + ingest writer"):
                value = step["stats"]["documents"]
                written += value["total"] if isinstance(value, dict) else value
    fates = pq.read_table(reference / "ledger", columns=["fate"])["fate"].to_pylist()
    assert written == sum(fate != "quarantined" for fate in fates)


@pytest.mark.slow
def test_output_is_identical_across_executors_and_workers(corpus, reference, tmp_path):
    expected = _digests(reference)
    _prepare(corpus, tmp_path / "local2", workers=2)
    assert _digests(tmp_path / "local2") == expected
    _prepare(corpus, tmp_path / "dask2", workers=2, executor="dask")
    assert _digests(tmp_path / "dask2") == expected


@pytest.mark.slow
def test_resume_after_a_killed_run_gives_identical_output(corpus, reference, tmp_path):
    out = tmp_path / "killed"
    command = [
        sys.executable, "-m", "procmix_cli", "prepare", str(corpus), "-o", str(out),
        "--workers", "1", "--max-chars", "20000",
    ]  # fmt: skip
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL)
    completions = out / "_logs" / "ingest" / "completions"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(completions.glob("*")):
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / "summary.json").exists(), "the run finished before it could be killed"
    assert subprocess.run(command, stderr=subprocess.DEVNULL).returncode == 0
    assert _digests(out) == _digests(reference)


def test_cli_query_stats_and_errors(reference, tmp_path, capsys):
    assert main(["query", str(reference), "SELECT count(*) AS n FROM ledger", "--json"]) == 0
    assert '"n":' in capsys.readouterr().out
    assert main(["stats", str(reference)]) == 0
    assert "documents in" in capsys.readouterr().out
    assert main(["prepare", str(tmp_path / "nothing-here"), "-o", str(tmp_path / "o")]) == 2
    assert "no input files matched" in capsys.readouterr().err
    for verb in ("prepare", "query", "stats"):
        with pytest.raises(SystemExit) as exit_info:
            main([verb, "--help"])
        assert exit_info.value.code == 0


def test_only_bad_records_exits_non_zero_with_advice(tmp_path):
    folder = tmp_path / "bad_only"
    folder.mkdir()
    (folder / "x.jsonl").write_text('{"id": 1}\n[1]\n{"text": ""}\n')
    with pytest.raises(PrepareError) as error:
        _prepare(folder, tmp_path / "out", workers=1)
    assert error.value.exit_code == 1
    assert "3 records quarantined" in str(error.value)
    assert len(list(itertools.chain((tmp_path / "out" / "ledger").glob("*.parquet")))) == 1
