"""Decontaminated mixtures on real data: sample sources with GSM8K (whose test split
the sample data holds twice), prepared against the shipped evaluation sets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import mixtures.corpus
from mixtures.decont import DecontError
from mixtures.mix import SelfCheckFailed, mix
from mixtures.spec import parse_spec
from mixtures.verify import passed, verify
from mixtures.writer import shard_schema
from procmix_cli import main
from support.synthetic import SUBSET, subset_spec, synthetic_docs, synthetic_spec, write_corpus

EXCLUDED_CHECK = "documents flagged for excluded benchmarks"


@pytest.fixture(scope="module")
def checked(data_dir, tmp_path_factory, evalset_index) -> Path:
    out = tmp_path_factory.mktemp("decontmix") / "corpus"
    files = [str(data_dir / f) for f in SUBSET]
    assert (
        main(["prepare", *files, "-o", str(out), "--no-tag", "--decont", str(evalset_index)]) == 0
    )
    return out


@pytest.fixture(scope="module")
def flagged(checked) -> pa.Table:
    """The corpus's documents that hit any benchmark."""
    docs = pq.read_table(checked / "docs")
    return docs.filter(pa.compute.greater(docs["contam_ngrams"], 0))


def _keys(mixdir: Path) -> set[str]:
    shards = sorted(mixdir.glob("shard-*.parquet"))
    return set(pq.read_table(shards, columns=["doc_key"])["doc_key"].to_pylist())


def _checks(path: Path) -> dict[str, object]:
    return {c.name.split(" (")[0]: c for checks in verify(path).values() for c in checks}


def test_decontaminated_mixture_holds_no_flagged_document(checked, flagged, tmp_path, capsys):
    gsm8k_test = [k for k in flagged["id"].to_pylist() if k.startswith("gsm8k:test")]
    assert len(gsm8k_test) > 1319  # both copies of the test split, kept by dedup
    # Without exclusion the same budget takes hundreds of GSM8K test problems.
    mix(parse_spec(subset_spec(checked, decontaminate={"benchmarks": []})), tmp_path / "open")
    entry = json.loads((tmp_path / "open" / "manifest.json").read_text())["decontamination"]
    assert (
        entry["documents_excluded"] == 0 and entry["benchmarks"]["gsm8k"]["items_in_mixture"] > 100
    )
    assert _keys(tmp_path / "open") & set(flagged["doc_key"].to_pylist())
    assert passed(verify(tmp_path / "open"))

    spec = tmp_path / "all.yaml"
    spec.write_text(yaml.safe_dump(subset_spec(checked, decontaminate={"benchmarks": "all"})))
    assert main(["mix", str(spec), "-o", str(tmp_path / "all")]) == 0
    out = capsys.readouterr().out
    assert f"excluded {flagged.num_rows:,} documents" in out and "items_in_mixture" in out
    assert not _keys(tmp_path / "all") & set(flagged["doc_key"].to_pylist())
    manifest = json.loads((tmp_path / "all" / "manifest.json").read_text())
    entry = manifest["decontamination"]
    index = json.loads((checked / "decont-index" / "index.json").read_text())
    assert entry["index"] == {"path": str(checked / "decont-index"), "digest": index["digest"]}
    assert entry["documents_excluded"] == flagged.num_rows
    assert entry["tokens_excluded"] == sum(flagged["n_tokens"].to_pylist())
    gsm8k = entry["benchmarks"]["gsm8k"]
    assert gsm8k["items"] == gsm8k["items_in_corpus"] == 1319 and gsm8k["excluded"]
    hit_gsm8k = [b for b in flagged["contam_benchmarks"].to_pylist() if "gsm8k" in b]
    assert gsm8k["documents_excluded"] == len(hit_gsm8k)
    assert all(b["items_in_mixture"] == 0 for b in entry["benchmarks"].values())
    corpus_docs = sum(pq.read_metadata(p).num_rows for p in (checked / "docs").glob("*.parquet"))
    assert manifest["corpus"]["documents"] == corpus_docs - flagged.num_rows  # the candidates
    assert passed(verify(tmp_path / "all"))
    # The default on a checked corpus is every benchmark: the same shards.
    mix(parse_spec(subset_spec(checked)), tmp_path / "default")
    for shard in manifest["shards"]:
        name = shard["file"]
        assert (tmp_path / "default" / name).read_bytes() == (tmp_path / "all" / name).read_bytes()

    # decont report on the mixture finds the index through the manifest.
    assert main(["decont", "report", str(tmp_path / "open"), "--out", str(tmp_path / "l")]) == 0
    dirty = (tmp_path / "l" / "gsm8k.dirty.txt").read_text().split()
    clean = (tmp_path / "l" / "gsm8k.clean.txt").read_text().split()
    assert len(dirty) == 1319 - len(clean) > 100
    assert main(["decont", "report", str(tmp_path / "all"), "--out", str(tmp_path / "c")]) == 0
    assert (tmp_path / "c" / "gsm8k.dirty.txt").read_text() == ""


def _shard_row(doc: dict) -> dict:
    content = doc["label_procedural"] or "other"
    task = doc["input_task_type"] or "other"
    return {
        **{k: doc[k] for k in ("doc_key", "id", "text", "source", "n_tokens", "content_hash")},
        "content_type": content,
        "task_type": task,
        "bucket": f"{content}/{task}/{doc['source']}",
        "epoch": 0,
        "license": doc["license"],
    }


def test_verify_catches_a_shard_edited_to_hold_a_flagged_document(checked, flagged, tmp_path):
    out = tmp_path / "m"
    mix(parse_spec(subset_spec(checked, decontaminate={"benchmarks": ["gsm8k"]})), out)
    assert passed(verify(out))
    planted = next(d for d in flagged.to_pylist() if d["contam_benchmarks"] == ["gsm8k"])
    shard = out / "shard-00000.parquet"
    table = pq.read_table(shard)
    added = pa.Table.from_pylist([_shard_row(planted)], schema=shard_schema(with_license=True))
    pq.write_table(pa.concat_tables([table, added]), shard, compression="zstd")
    checks = _checks(out)
    assert not checks[EXCLUDED_CHECK].ok
    assert checks[EXCLUDED_CHECK].found == f"1, e.g. {planted['doc_key']}"
    assert not checks["items found per benchmark match manifest"].ok
    assert checks["decont index digest matches manifest"].ok


def test_a_failed_exclusion_is_never_published(checked, tmp_path, monkeypatch):
    real = mixtures.corpus.decontaminate

    def keep_everything(*args):
        keep, record = real(*args)
        return np.ones_like(keep), record

    monkeypatch.setattr(mixtures.corpus, "decontaminate", keep_everything)
    with pytest.raises(SelfCheckFailed) as info:
        mix(parse_spec(subset_spec(checked)), tmp_path / "m")
    assert any(c.name.startswith(EXCLUDED_CHECK) for c in info.value.failed)
    assert not (tmp_path / "m" / "manifest.json").exists()


def test_sweep_after_exclusion_keeps_one_factual_block(checked, flagged, tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(subset_spec(checked, diversity={})))
    assert main(["sweep", str(spec), "--levels", "2,4", "-o", str(tmp_path / "sw")]) == 0
    assert f"excluded {flagged.num_rows:,} documents" in capsys.readouterr().out
    results = verify(tmp_path / "sw")
    assert passed(results)
    sweep_check = results[f"{tmp_path / 'sw'} (sweep)"][0]
    assert sweep_check.name == "factual/other block identical across arms" and sweep_check.ok
    bad = set(flagged["doc_key"].to_pylist())
    for arm in ("d2", "d4"):
        assert not _keys(tmp_path / "sw" / arm) & bad
        entry = json.loads((tmp_path / "sw" / arm / "manifest.json").read_text())
        assert entry["decontamination"]["documents_excluded"] == flagged.num_rows


def test_decontaminate_errors_name_what_was_expected(checked, tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(subset_spec(checked, decontaminate={"benchmarks": ["gsm8"]})))
    assert main(["mix", str(spec), "-o", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "decontaminate.benchmarks: ['gsm8'] not in the corpus's index" in err
    assert "'gsm8k'" in err and not (tmp_path / "m").exists()

    plain = write_corpus(tmp_path / "plain", synthetic_docs())
    raw = synthetic_spec(plain, tokens=60_000)
    mix(parse_spec(raw), tmp_path / "p")
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert manifest["decontamination"] == {"index": None, "benchmarks": {}}
    with pytest.raises(DecontError, match="was not checked against an evaluation-set index"):
        mix(parse_spec({**raw, "decontaminate": {"benchmarks": "all"}}), tmp_path / "q")
