"""Decontamination on real data: the shipped evaluation sets against the sample corpus."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline import schema
from pipeline.decont.corpus import report
from pipeline.decont.evalsets import EvalsetError
from pipeline.decont.index import build_index
from pipeline.prepare import PrepareConfig, prepare
from pipeline.stats import query
from procmix_cli import main
from procmix_core.decont_match import load_index, tally_files
from procmix_core.words import normalized_words
from support.data import EVALSETS, read_jsonl_gz

GSM8K_TEST_ITEMS = 1319


@pytest.fixture(scope="module")
def gsm8k_docs(data_dir) -> dict[str, list[dict]]:
    """The GSM8K source by split, read from the ids (``gsm8k:<split>:<n>``)."""
    splits: dict[str, list[dict]] = {}
    for record in read_jsonl_gz("gsm8k.jsonl.gz"):
        splits.setdefault(record["id"].split(":")[1], []).append(record)
    return splits


def _ngrams(text: str, n: int = 13) -> set[tuple[str, ...]]:
    words = normalized_words(text)
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _items(benchmark: str) -> list[dict]:
    with open(EVALSETS / f"{benchmark}.jsonl") as f:
        return [json.loads(line) for line in f]


@pytest.mark.parametrize("split", ["test", "test_socratic"])
def test_every_gsm8k_test_problem_is_found(evalset_index, gsm8k_docs, split):
    index = load_index(evalset_index)
    docs = gsm8k_docs[split]
    assert len(docs) == GSM8K_TEST_ITEMS
    matches = index.match([d["text"] for d in docs])
    hits = matches.item_lists().to_pylist()
    found = sum(
        f"gsm8k:test:{d['id'].split(':')[2]}" in items for d, items in zip(docs, hits, strict=True)
    )
    print(f"GSM8K {split}: recall {found}/{len(docs)}")
    assert found == GSM8K_TEST_ITEMS
    assert all("gsm8k" in b for b in matches.benchmark_lists().to_pylist())


def test_gsm8k_train_documents_are_flagged_only_on_a_shared_13_gram(evalset_index, gsm8k_docs):
    index = load_index(evalset_index)
    test_items = _items("gsm8k")
    grams = [_ngrams(f"{i['question']}\n{i['answer']}") for i in test_items]
    train = gsm8k_docs["train"]
    hits = index.match([d["text"] for d in train]).item_lists().to_pylist()
    flagged = []
    for doc, items in zip(train, hits, strict=True):
        gsm8k_items = [i for i in items if i.startswith("gsm8k:")]
        doc_grams = _ngrams(doc["text"])
        truly = {test_items[k]["item_id"] for k, g in enumerate(grams) if g & doc_grams}
        # Calculator annotations aside, the index holds exactly the items' 13-grams.
        assert set(gsm8k_items) == truly, doc["id"]
        if gsm8k_items:
            flagged.append((doc["id"], gsm8k_items))
    print(f"GSM8K train flagged as GSM8K test: {len(flagged)}/{len(train)}, e.g. {flagged[:3]}")
    assert len(flagged) < 20


def _long_unrelated_text() -> str:
    novels = read_jsonl_gz("pg_novels.jsonl.gz", 5)
    return " ".join(r["text"] for r in novels)[:40_000]


def test_planted_item_with_whitespace_and_case_changes_is_found(evalset_index):
    index = load_index(evalset_index)
    item = next(i for i in _items("math") if i["item_id"] == "math:test:algebra:2")
    pasted = item["question"].upper().replace(" ", "  \n\t ", 7).replace(".", " . ")
    background = _long_unrelated_text()
    middle = len(background) // 2
    planted = f"{background[:middle]}\n\n{pasted}\n\n{background[middle:]}"
    clean = index.match([background])
    matches = index.match([planted])
    assert clean.ngrams[0] == 0
    assert "math:test:algebra:2" in matches.item_lists().to_pylist()[0]
    assert matches.benchmark_lists().to_pylist()[0] == ["math"]
    question_words = len(normalized_words(item["question"]))
    assert matches.longest[0] == question_words
    assert matches.ngrams[0] == question_words - 13 + 1


def test_a_common_phrase_is_not_contamination(evalset_index):
    index = load_index(evalset_index)
    phrases = (
        "How much money does she have left?",
        "To find the total number of students, add the two numbers.",
        "Which of the following is true?",
    )
    text = _long_unrelated_text()
    for phrase in phrases:
        text = text.replace(". ", f". {phrase} ", 1)
    matches = index.match([text])
    assert matches.ngrams[0] == 0 and matches.item_lists().to_pylist() == [[]]


def test_index_is_deterministic_and_records_n_per_benchmark(evalset_index, tmp_path):
    info = json.loads((evalset_index / "index.json").read_text())
    again = build_index(sorted(EVALSETS.glob("*.jsonl"), reverse=True), tmp_path / "again")
    assert again["digest"] == info["digest"]
    assert (tmp_path / "again" / "hashes.npy").read_bytes() == (
        evalset_index / "hashes.npy"
    ).read_bytes()
    benchmarks = info["benchmarks"]
    assert benchmarks["gsm8k"] == {
        "items": GSM8K_TEST_ITEMS,
        "indexed_items": GSM8K_TEST_ITEMS,
        "n": 13,
        "ngrams": benchmarks["gsm8k"]["ngrams"],
    }
    assert all(8 <= b["n"] <= 13 for b in benchmarks.values())
    assert benchmarks["strategyqa"]["n"] < 13  # short items: shorter n-grams


def test_bad_evalset_line_is_reported_and_nothing_is_written(tmp_path, capsys):
    lines = (EVALSETS / "gsm8k.jsonl").read_text().splitlines()[:5]
    broken = json.loads(lines[2])
    del broken["question"]
    lines[2] = json.dumps(broken)
    lines[4] = lines[4][:50]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(EvalsetError) as raised:
        build_index([bad], tmp_path / "index")
    assert f"{bad}:3: missing 'question'" in str(raised.value)
    assert f"{bad}:5: malformed JSON" in str(raised.value)
    assert not (tmp_path / "index").exists()

    good = tmp_path / "good"
    build_index([EVALSETS / "gsm8k.jsonl"], good)
    before = (good / "index.json").read_text()
    assert main(["decont", "index", str(bad), "-o", str(good)]) == 2
    assert f"{bad}:3: missing 'question'" in capsys.readouterr().err
    assert (good / "index.json").read_text() == before  # the old index stays whole
    assert not list(tmp_path.glob("*.tmp"))


def _planted_corpus(folder: Path, data_dir: Path) -> None:
    """GSM8K test and train rows, an unrelated source, and a document holding an MMLU item."""
    folder.mkdir()
    with gzip.open(data_dir / "gsm8k.jsonl.gz", "rb") as f:
        lines = f.readlines()
    with gzip.open(folder / "gsm8k.jsonl.gz", "wb") as f:
        f.writelines(lines[:300] + lines[7473:7773])
    shutil.copy(data_dir / "theolb.jsonl.gz", folder / "theolb.jsonl.gz")
    item = next(i for i in _items("mmlu") if len(i["question"].split()) > 30)
    text = f"{_long_unrelated_text()[:5000]}\n{item['question']}\n" + "\n".join(item["choices"])
    (folder / "planted.jsonl").write_text(json.dumps({"id": "planted", "text": text}) + "\n")


@pytest.fixture(scope="module")
def checked_corpus(tmp_path_factory, data_dir, evalset_index) -> tuple[Path, Path]:
    """The same input prepared without and with --decont."""
    root = tmp_path_factory.mktemp("decont")
    _planted_corpus(root / "in", data_dir)
    outs = []
    for name, decont in (("plain", None), ("checked", str(evalset_index))):
        config = PrepareConfig(
            inputs=[str(root / "in")], out=str(root / name), workers=1, tag=False, decont=decont
        )
        prepare(config, log=lambda message: None)
        outs.append(root / name)
    return outs[0], outs[1]


def _direct_count(docs) -> dict[str, dict]:
    benchmark_of = {}
    for path in EVALSETS.glob("*.jsonl"):
        items = map(json.loads, path.read_text().strip().split("\n"))
        benchmark_of.update({i["item_id"]: i["benchmark"] for i in items})
    counts: dict[str, dict] = {}
    for row in docs:
        for name in row["contam_benchmarks"]:
            entry = counts.setdefault(name, {"items": set(), "documents": 0, "tokens": 0})
            entry["documents"] += 1
            entry["tokens"] += row["n_tokens"]
        for item in row["contam_items"]:
            counts[benchmark_of[item]]["items"].add(item)
    return counts


def test_prepare_decont_columns_view_and_summary(checked_corpus):
    plain, checked = checked_corpus
    docs = pq.read_table(checked / "docs")
    for field in schema.DECONT_SCHEMA:
        assert docs.schema.field(field.name).type == field.type
    rows = docs.to_pylist()
    planted = next(r for r in rows if r["id"] == "planted")
    assert planted["contam_benchmarks"] == ["mmlu"] and planted["contam_longest"] > 30
    assert all(r["contam_ngrams"] > 0 for r in rows if r["id"].startswith("gsm8k:test:"))
    assert not any(r["contam_items"] for r in rows if r["source"] == "theolb")

    direct = _direct_count(rows)
    columns, view = query(checked, "SELECT * FROM contamination")
    by_name = {row[0]: dict(zip(columns, row, strict=True)) for row in view}
    summary = json.loads((checked / "summary.json").read_text())["decont"]
    assert summary["index_digest"] == load_index(checked / "decont-index").digest
    for name, entry in by_name.items():
        expected = direct.get(name, {"items": set(), "documents": 0, "tokens": 0})
        got = (entry["items_hit"], entry["documents"], entry["tokens"])
        assert got == (len(expected["items"]), expected["documents"], expected["tokens"]), name
        assert summary["benchmarks"][name] == {k: v for k, v in entry.items() if k != "benchmark"}
    # 300 test problems, plus the test items that train documents share a 13-gram with.
    assert by_name["gsm8k"]["items_hit"] >= 300

    # Without --decont the columns are there, all null: "not checked", not "clean".
    unchecked = pq.read_table(plain / "docs", columns=schema.DECONT_SCHEMA.names)
    assert all(unchecked[name].null_count == unchecked.num_rows for name in unchecked.column_names)
    assert "decont" not in json.loads((plain / "summary.json").read_text())


def test_decont_tag_and_report_match_prepare(checked_corpus, evalset_index, tmp_path):
    plain, checked = checked_corpus
    before = sorted((p.name, p.stat().st_mtime_ns) for p in (plain / "docs").iterdir())
    assert (
        main(
            ["decont", "tag", str(plain), "--index", str(evalset_index), "-o", str(tmp_path / "t")]
        )
        == 0
    )
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (plain / "docs").iterdir()) == before
    names = ["doc_key", *schema.DECONT_SCHEMA.names]
    assert pq.read_table(tmp_path / "t" / "docs", columns=names).equals(
        pq.read_table(checked / "docs", columns=names)
    )
    assert query(tmp_path / "t", "SELECT * FROM contamination") == query(
        checked, "SELECT * FROM contamination"
    )

    rows = report(checked, out_dir=tmp_path / "lists")
    gsm8k = rows["gsm8k"]
    dirty = (tmp_path / "lists" / "gsm8k.dirty.txt").read_text().split()
    clean = (tmp_path / "lists" / "gsm8k.clean.txt").read_text().split()
    assert len(dirty) == gsm8k["items_hit"] and len(clean) == GSM8K_TEST_ITEMS - len(dirty)
    # Shards carry text, not the columns: the report matches them against the index.
    shards = tmp_path / "shards"
    shards.mkdir()
    for i, path in enumerate(sorted((checked / "docs").glob("*.parquet"))):
        table = pq.read_table(path, columns=["doc_key", "text", "n_tokens"])
        pq.write_table(table, shards / f"shard-{i:05d}.parquet")
    assert report(shards, index_path=checked / "decont-index") == rows
    files = sorted(shards.glob("*.parquet"))
    assert tally_files(files, load_index(evalset_index)).benchmarks() == rows
