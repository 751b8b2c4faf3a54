"""End to end on prepared shared data: mix, verify, sweep, explain, CLI, determinism."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from mixtures.corpus import CorpusError
from mixtures.mix import mix, open_corpus, problem_for
from mixtures.optimiser import solve
from mixtures.spec import parse_spec
from mixtures.verify import passed, verify
from procmix_cli import main
from procmix_core.hashing import file_sha256
from support.synthetic import (
    LABELS,
    SUBSET,
    subset_spec,
    synthetic_docs,
    synthetic_spec,
    write_corpus,
)


@pytest.fixture(scope="module")
def corpus(data_dir, tmp_path_factory) -> Path:
    """The subset without classifier columns: these tests mix on its structural labels."""
    out = tmp_path_factory.mktemp("mixcorpus") / "corpus"
    files = [str(data_dir / f) for f in SUBSET]
    assert main(["prepare", *files, "-o", str(out), "--no-tag"]) == 0
    return out


@pytest.mark.slow
def test_mix_on_the_classifier_columns_with_noise_correction(data_dir, tmp_path, capsys):
    tagged = tmp_path / "tagged"
    assert main(["prepare", *[str(data_dir / f) for f in SUBSET[:6]], "-o", str(tagged)]) == 0
    raw = {k: v for k, v in subset_spec(tagged, noise_correction=True).items() if k != "labels"}
    # 1M tokens: at 600k, the soft-label content model's tags left task
    # science at about 24 mean documents, where the self-check rightly refuses
    # a whole-document prefix 7% off its plan.
    spec = _write(tmp_path / "s.yaml", {**raw, "tokens": 1_000_000, "diversity": {"d1": 7.0}})
    assert main(["mix", str(spec), "-o", str(tmp_path / "m")]) == 0
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    models = json.loads((tagged / "summary.json").read_text())["classifiers"]
    assert manifest["noise_model"]["labels"] == models["task_type"]["labels"]
    assert json.dumps(manifest).count(models["task_type"]["sha256"]) >= 1
    assert passed(verify(tmp_path / "m"))


def _write(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw))
    return path


def _read(mixdir: Path, columns: list[str]) -> pa.Table:
    return pq.read_table(sorted(mixdir.glob("shard-*.parquet")), columns=columns)


def _by_bucket(mixdir: Path) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    for row in _read(mixdir, ["bucket", "doc_key"]).to_pylist():
        groups.setdefault(row["bucket"], set()).add(row["doc_key"])
    return groups


def _checks(mixdir: Path) -> dict[str, bool]:
    return {c.name: c.ok for checks in verify(mixdir).values() for c in checks}


def test_mix_meets_targets_and_is_byte_identical(corpus, tmp_path, capsys):
    spec = _write(tmp_path / "s.yaml", subset_spec(corpus))
    assert main(["mix", str(spec), "-o", str(tmp_path / "a")]) == 0
    assert main(["verify", str(tmp_path / "a")]) == 0
    assert "all checks passed" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    achieved = manifest["achieved"]
    assert abs(achieved["tokens"] - 2_000_000) <= 10_000
    assert achieved["d1"] == pytest.approx(3.0, rel=0.01)
    assert len(manifest["shards"]) > 1
    assert manifest["corpus"]["null_labels_counted_as_other"]["content_type"] > 0
    table = pq.read_table(tmp_path / "a" / manifest["shards"][0]["file"])
    assert {
        "doc_key",
        "id",
        "text",
        "source",
        "content_type",
        "task_type",
        "n_tokens",
        "bucket",
        "license",
    } <= set(table.column_names)
    assert main(["mix", str(spec), "-o", str(tmp_path / "b")]) == 0
    for name in [s["file"] for s in manifest["shards"]] + ["manifest.json"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_verify_catches_a_tampered_shard(corpus, tmp_path):
    out = tmp_path / "m"
    mix(parse_spec(subset_spec(corpus)), out)
    shard = out / "shard-00000.parquet"
    table = pq.read_table(shard)
    pq.write_table(table.slice(1), shard, compression="zstd")
    checks = _checks(out)
    assert not checks["shard-00000.parquet sha256"]
    assert not checks["shard-00000.parquet rows, tokens"]
    assert checks["n_tokens = ceil(UTF-8 bytes / 4), every row"]
    assert main(["verify", str(out), "--json"]) == 1
    shard = out / "shard-00001.parquet"
    table = pq.read_table(shard)
    tokens = pa.array([n + 1 if i == 5 else n for i, n in enumerate(table["n_tokens"].to_pylist())])
    pq.write_table(
        table.set_column(table.schema.get_field_index("n_tokens"), "n_tokens", tokens), shard
    )
    assert not _checks(out)["n_tokens = ceil(UTF-8 bytes / 4), every row"]


def _rewrite(mixdir: Path, name: str, table: pa.Table) -> None:
    """Replace a shard and record its new sha256, as a careful tamperer would."""
    pq.write_table(table, mixdir / name, compression="zstd")
    manifest = json.loads((mixdir / "manifest.json").read_text())
    entry = next(s for s in manifest["shards"] if s["file"] == name)
    entry["sha256"] = file_sha256(mixdir / name)
    (mixdir / "manifest.json").write_text(json.dumps(manifest))


def test_verify_recomputes_what_a_consistent_tamper_changes(tmp_path):
    corpus = write_corpus(tmp_path / "c", synthetic_docs(600))
    out = tmp_path / "m"
    mix(parse_spec(synthetic_spec(corpus, tokens=60_000, shard={"rows": 10_000})), out)
    name = "shard-00000.parquet"
    table = pq.read_table(out / name)
    rows = table.to_pylist()
    # Two documents of equal length: copying one's text over the other's keeps
    # n_tokens and the stored content_hash right, so only md5(text) sees it.
    first = {}
    i, j = next(
        (first[r["n_tokens"]], k)
        for k, r in enumerate(rows)
        if first.setdefault(r["n_tokens"], k) != k
    )
    texts = table["text"].to_pylist()
    texts[j] = texts[i]
    _rewrite(out, name, table.set_column(table.schema.get_field_index("text"), "text", [texts]))
    checks = _checks(out)
    assert checks[f"{name} sha256"] and checks["n_tokens = ceil(UTF-8 bytes / 4), every row"]
    assert not checks["documents with the same text"]
    # Relabel a procedural row as factual: tokens and D1 may hold, the shares do not.
    _rewrite(out, name, table)
    k = table["content_type"].to_pylist().index("procedural")
    kinds = table["content_type"].to_pylist()
    kinds[k] = "factual"
    column = table.schema.get_field_index("content_type")
    _rewrite(out, name, table.set_column(column, "content_type", [kinds]))
    checks = _checks(out)
    assert checks[f"{name} sha256"] and checks["documents with the same text"]
    assert not checks["manifest figures match shards (tokens, procedural_share, d0, d1, d2)"]
    assert not checks["manifest task shares match shards (largest difference)"]


def test_sweep_arms_share_the_factual_block(corpus, tmp_path, capsys):
    spec = _write(tmp_path / "s.yaml", subset_spec(corpus, diversity={}))
    assert main(["sweep", str(spec), "--levels", "3,4,5", "-o", str(tmp_path / "sw")]) == 0
    table = capsys.readouterr().out
    assert "d5" in table and "factual block" in table
    keys = {}
    for arm in ("d3", "d4", "d5"):
        shards = _read(tmp_path / "sw" / arm, ["doc_key", "content_type"])
        rows = shards.to_pylist()
        assert len({r["doc_key"] for r in rows}) == len(rows)
        keys[arm] = sorted(r["doc_key"] for r in rows if r["content_type"] != "procedural")
    assert keys["d3"] == keys["d4"] == keys["d5"]
    # Nested: in every bucket, an arm that takes fewer documents takes a subset.
    buckets: dict[str, list[set[str]]] = {}
    for arm in ("d3", "d4", "d5"):
        for bucket, group in _by_bucket(tmp_path / "sw" / arm).items():
            buckets.setdefault(bucket, []).append(group)
    for bucket, groups in buckets.items():
        groups.sort(key=len)
        assert all(a <= b for a, b in zip(groups, groups[1:], strict=False)), bucket
    assert any(len(g[0]) < len(g[-1]) for g in buckets.values())
    results = verify(tmp_path / "sw")
    assert passed(results)
    assert any("(sweep)" in where for where in results)
    spec = _write(tmp_path / "r.yaml", subset_spec(corpus, diversity={}, max_epochs=2))
    assert main(["sweep", str(spec), "--levels", "3,4", "-o", str(tmp_path / "r")]) == 2
    assert "a sweep repeats no document" in capsys.readouterr().err


def test_infeasible_spec_fails_fast_with_the_explain_text(corpus, tmp_path, capsys):
    spec = _write(tmp_path / "s.yaml", subset_spec(corpus, diversity={"d1": 11.0}))
    assert main(["explain", str(spec)]) == 3
    explained = capsys.readouterr().out
    assert main(["mix", str(spec), "-o", str(tmp_path / "m")]) == 3
    error = capsys.readouterr().err
    reason = next(
        line.strip() for line in explained.splitlines() if "11 asked;" in line and "binding" in line
    )
    assert reason in error
    assert not (tmp_path / "m").exists()


def test_explain_reports_ranges(corpus, tmp_path, capsys):
    spec = _write(tmp_path / "s.yaml", subset_spec(corpus, tasks={"health": {"max": 0.1}}))
    assert main(["explain", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "diversity.d1: 3 asked; D1 reachable" in out and "feasible: tau" in out
    warning = "tasks.health: not a procedural task type of this corpus"
    assert f"warning: {warning}" in out
    assert main(["mix", str(spec), "-o", str(tmp_path / "m")]) == 0
    assert f"procmix mix: warning: {warning}" in capsys.readouterr().err
    names = [c.name for checks in verify(tmp_path / "m").values() for c in checks]
    assert not [n for n in names if "health" in n]
    spec = _write(tmp_path / "t.yaml", subset_spec(corpus, tasks={"maths": {"max": 0.0}}))
    assert main(["explain", str(spec)]) == 2
    assert "tasks: expected task types among" in capsys.readouterr().err


def test_d0_bound_is_checked_on_the_documents_selected(corpus, tmp_path, capsys):
    # At D1 2 the tempered path gives one task type a few tokens, under half a
    # document: the shares count four task types, the selection writes three.
    raw = subset_spec(corpus, diversity={"d1": 2.0, "d0_min": 4})
    spec = parse_spec(raw)
    assert solve(problem_for(spec, open_corpus(spec))).planned["d0"] == 4
    assert main(["explain", str(_write(tmp_path / "s.yaml", raw))]) == 3
    out = capsys.readouterr().out
    assert "diversity.d0: 3.000" in out and "not met on the tempered path" in out
    assert main(["mix", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "m")]) == 3
    assert not (tmp_path / "m").exists()
    manifest = mix(
        parse_spec(subset_spec(corpus, diversity={"d1": 2.0, "d0_min": 3})), tmp_path / "m"
    )
    planned, achieved = manifest["solution"]["planned"], manifest["achieved"]
    assert planned["d0"] == achieved["d0"] == 3
    assert planned["d2"] == pytest.approx(achieved["d2"])
    assert passed(verify(tmp_path / "m"))


def test_bad_specs_corpora_and_outputs_are_clear_errors(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "c", synthetic_docs(300))
    raw, out = synthetic_spec(corpus, tokens=20_000), tmp_path / "m"
    for change in ({"procedural_share": None}, {"shard": {"rows": None}}, {"corpus": None}):
        spec = _write(tmp_path / "s.yaml", {**raw, **change})
        assert main(["mix", str(spec), "-o", str(out)]) == 2
        assert "expected" in capsys.readouterr().err and not out.exists()
    out.write_text("a file")
    assert main(["mix", str(_write(tmp_path / "s.yaml", raw)), "-o", str(out)]) == 2
    assert "-o: expected a folder (new or empty), found a file" in capsys.readouterr().err
    for path in (corpus / "docs").glob("*.parquet"):
        pq.write_table(pq.read_table(path).slice(0, 0), path)
    assert main(["explain", str(tmp_path / "s.yaml")]) == 2
    assert "corpus has no documents" in capsys.readouterr().err


def test_missing_label_columns_and_noise_model_give_clear_errors(corpus, tmp_path, capsys):
    spec = _write(
        tmp_path / "s.yaml", {k: v for k, v in subset_spec(corpus).items() if k != "labels"}
    )
    assert main(["mix", str(spec), "-o", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert (
        "column 'content_type' (labels.content_type)" in err and "run prepare with tagging" in err
    )
    assert "'label_procedural'" in err and "'input_task_type'" in err  # the corpus's columns
    assert "'n_tokens'" not in err  # not a string column
    spec = _write(tmp_path / "n.yaml", subset_spec(corpus, noise_correction=True))
    assert main(["mix", str(spec), "-o", str(tmp_path / "m")]) == 2
    assert "classifiers.task_type" in capsys.readouterr().err


def test_noise_correction_with_a_confusion_matrix(corpus, tmp_path):
    copy = tmp_path / "corpus"
    shutil.copytree(corpus / "docs", copy / "docs")
    summary = json.loads((corpus / "summary.json").read_text())
    labels = ["code", "computing", "cooking", "home_diy", "math", "other", "reasoning"]
    matrix = [[0.85 if i == j else 0.15 / 6 for j in range(7)] for i in range(7)]
    summary["classifiers"] = {
        "task_type": {
            "model": "task.ftz",
            "sha256": "ab" * 32,
            "version": "1",
            "labels": labels,
            "p_true_given_pred": matrix,
        }
    }
    (copy / "summary.json").write_text(json.dumps(summary))
    out = tmp_path / "m"
    manifest = mix(parse_spec(subset_spec(copy, noise_correction=True, diversity={"d1": 5.0})), out)
    assert manifest["achieved"]["d1_true"] == pytest.approx(5.0, rel=0.01)
    assert manifest["achieved"]["d1"] < 5.0
    assert manifest["classifiers"]["task_type"]["sha256"] == "ab" * 32
    assert passed(verify(out))
    # A matrix that misses a task type: an error when asked for, no corrected figure otherwise.
    task = summary["classifiers"]["task_type"]
    task["labels"], task["p_true_given_pred"] = labels[1:], [row[1:] for row in matrix[1:]]
    (copy / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(CorpusError, match=r"task types \['code'\] are not among"):
        mix(parse_spec(subset_spec(copy, noise_correction=True)), tmp_path / "n")
    manifest = mix(parse_spec(subset_spec(copy)), tmp_path / "n")
    assert "d1_true" not in manifest["achieved"] and manifest["noise_model"] is None


def test_same_documents_in_any_file_layout_give_identical_shards(tmp_path):
    docs = synthetic_docs(3000)
    one = write_corpus(tmp_path / "one", docs, files=1)
    three = write_corpus(tmp_path / "three", docs[::-1], files=3)
    change = {"tokens": 300_000, "shard": {"rows": 400}, "order": "structured_first"}
    a = mix(parse_spec(synthetic_spec(one, **change)), tmp_path / "a")
    b = mix(parse_spec(synthetic_spec(three, **change)), tmp_path / "b")
    assert [s["sha256"] for s in a["shards"]] == [s["sha256"] for s in b["shards"]]
    assert passed(verify(tmp_path / "a"))


def test_tokenizer_counts_and_repeats(tmp_path, monkeypatch):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    docs = synthetic_docs(1000)
    corpus = write_corpus(tmp_path / "c", docs)
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(
        [d["text"] for d in docs[:50]], trainers.WordLevelTrainer(special_tokens=["[UNK]"])
    )
    tok.save(str(tmp_path / "tokenizer.json"))
    # Relative paths are the spec file's: mix from one folder, verify from another.
    raw = synthetic_spec(
        "c", tokens=100_000, procedural_share=0.6, tokenizer="tokenizer.json", max_epochs=2
    )
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["mix", str(_write(tmp_path / "s.yaml", raw)), "-o", "../m"]) == 0
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["spec"]["corpus"] == manifest["corpus"]["path"] == str(corpus)
    monkeypatch.chdir(tmp_path / "c")
    rows = _read(tmp_path / "m", ["text", "n_tokens", "doc_key"]).to_pylist()
    assert all(len(tok.encode(r["text"]).ids) == r["n_tokens"] for r in rows[:50])
    assert manifest["tokenizer"]["kind"] == "tokenizer.json"
    assert len({r["doc_key"] for r in rows}) < len(rows)
    assert passed(verify(tmp_path / "m"))


def test_refuses_to_overwrite_without_flag(corpus, tmp_path, capsys):
    spec = _write(tmp_path / "s.yaml", subset_spec(corpus))
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "keep.txt").write_text("x")
    assert main(["mix", str(spec), "-o", str(tmp_path / "m")]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["mix", str(spec), "-o", str(tmp_path / "m"), "--overwrite"]) == 2
    assert (tmp_path / "m" / "keep.txt").exists()


def test_spilling_to_disk_and_many_passes_write_the_same_shards(tmp_path, monkeypatch):
    import mixtures.writer

    corpus = write_corpus(tmp_path / "c", synthetic_docs(1500), files=3)
    raw = synthetic_spec(corpus, shard={"rows": 60})
    in_memory = mix(parse_spec(raw), tmp_path / "a")
    monkeypatch.setattr(mixtures.writer, "SPILL_MEMORY", 10_000)
    monkeypatch.setattr(mixtures.writer, "MAX_OPEN_SPILLS", 3)
    spilled = mix(parse_spec(raw), tmp_path / "b")
    assert len(in_memory["shards"]) > 6
    assert [s["sha256"] for s in spilled["shards"]] == [s["sha256"] for s in in_memory["shards"]]
    assert not (tmp_path / "b" / "_work").exists()


def test_tagged_corpus_needs_no_label_mapping(tmp_path):
    docs = [
        {
            **{k: v for k, v in d.items() if k not in LABELS.values()},
            "content_type": d["label_procedural"],
            "task_type": d["input_task_type"],
        }
        for d in synthetic_docs(1500)
    ]
    corpus = write_corpus(tmp_path / "c", docs)
    raw = synthetic_spec(corpus, diversity={"d1": 4.0})
    del raw["labels"]
    manifest = mix(parse_spec(raw), tmp_path / "m")
    assert manifest["corpus"]["labels"] == {
        "content_type": "content_type",
        "task_type": "task_type",
    }
    assert manifest["achieved"]["d1"] == pytest.approx(4.0, rel=0.01)


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_a_mixture_of_one_block_only(tmp_path, share):
    corpus = write_corpus(tmp_path / "c", synthetic_docs(4000))
    manifest = mix(
        parse_spec(synthetic_spec(corpus, tokens=300_000, procedural_share=share)), tmp_path / "m"
    )
    assert manifest["achieved"]["procedural_share"] == share
    assert passed(verify(tmp_path / "m"))


def test_overwrite_clears_what_a_crashed_mix_left(tmp_path):
    corpus = write_corpus(tmp_path / "c", synthetic_docs(600))
    out = tmp_path / "m"
    (out / "_work").mkdir(parents=True)
    (out / "_work" / "00000.arrow").write_bytes(b"partial")
    (out / "shard-00000.parquet").write_bytes(b"left by a crash")
    manifest = mix(parse_spec(synthetic_spec(corpus, tokens=60_000)), out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [s["file"] for s in manifest["shards"]] + ["manifest.json"]
    )
    assert _checks(out)["shard-00000.parquet sha256"]
