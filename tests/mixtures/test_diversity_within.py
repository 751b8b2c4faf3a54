"""Within-type diversity: the dual form, the sample, the sanity checks the README
quotes (on real sources of ../shared/data), and the figure in mix / verify."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from mixtures.diversity_within import stratified_sample, vendi
from mixtures.embedding import embed, load_model
from mixtures.mix import mix
from mixtures.spec import parse_spec
from mixtures.verify import verify
from mixtures.within_sanity import near_duplicates, sample_of, vendi_of_texts
from procmix_cli import main
from procmix_core.hashing import file_sha256
from support.data import read_jsonl_gz
from support.synthetic import synthetic_docs, synthetic_spec, write_corpus

UNRELATED = (
    "gsm8k.jsonl.gz",
    "beeton_household.jsonl.gz",
    "learnxinyminutes.jsonl.gz",
    "needlework_pg20776.jsonl.gz",
)


def _texts(name: str, n: int, seed: int = 0) -> list[str]:
    return sample_of([r["text"] for r in read_jsonl_gz(name)], n, seed)


def test_dual_form_equals_the_kernel_form(data_dir):
    vectors = embed(_texts("medquad.jsonl.gz", 300))
    vectors = vectors[np.linalg.norm(vectors, axis=1) > 0]
    eig = np.linalg.eigvalsh(vectors @ vectors.T / len(vectors))
    eig = eig[eig > 1e-12]
    assert vendi(vectors) == pytest.approx(float(np.exp(-(eig * np.log(eig)).sum())), rel=1e-9)
    # Weights act as repeated rows: row 0 three times is weight 3 / (n + 2).
    repeated = np.vstack([vectors, vectors[:1], vectors[:1]])
    weights = np.full(len(vectors), 1.0)
    weights[0] = 3
    assert vendi(vectors, weights / weights.sum()) == pytest.approx(vendi(repeated), rel=1e-9)


def test_near_duplicates_score_near_one_and_unrelated_sources_higher(data_dir):
    near = near_duplicates(_texts("gsm8k.jsonl.gz", 1)[0], 500)  # 5% of words replaced
    assert vendi_of_texts(near) < 1.2
    single = {name: vendi_of_texts(_texts(name, 1000)) for name in UNRELATED}
    assert all(2.0 < v < 8.0 for v in single.values()), single
    mixed = sum((_texts(name, 250) for name in UNRELATED), [])
    assert vendi_of_texts(mixed) > 1.5 * max(single.values())


def test_the_figure_is_stable_across_samples(data_dir):
    values = [vendi_of_texts(_texts("gsm8k.jsonl.gz", 1000, seed)) for seed in range(4)]
    assert (max(values) - min(values)) / np.mean(values) < 0.06, values


def test_the_sample_is_source_stratified_and_seeded():
    sources = np.array(["a"] * 700 + ["b"] * 200 + ["c"] * 100, dtype=object)
    keys = np.random.default_rng(1).integers(0, 2**63, size=1000).astype(np.uint64)
    picked = stratified_sample(keys, sources, 100)
    assert len(picked) == 100
    assert dict(zip(*np.unique(sources[picked], return_counts=True), strict=True)) == {
        "a": 70,
        "b": 20,
        "c": 10,
    }
    # Each source takes its smallest keys.
    for s in ("a", "b", "c"):
        mine = keys[sources == s]
        assert set(keys[picked][sources[picked] == s]) == set(
            np.sort(mine)[: len(picked[sources[picked] == s])]
        )
    assert list(stratified_sample(keys[:50], sources[:50], 100)) == list(range(50))


def test_the_model_is_the_shipped_file():
    model = load_model()
    assert model.dims == 64 and len(model.vocab) == model.vectors.shape[0] == 16384
    assert np.all(np.diff(model.vocab.astype(np.float64)) > 0)  # sorted, for searchsorted
    assert model.sha256 == file_sha256(Path("mixtures/models/lsa64.npz").resolve())


def _write(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw))
    return path


def test_manifest_verify_and_within_min(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "c", synthetic_docs(1200))
    raw = synthetic_spec(corpus, tokens=80_000, shard={"rows": 400})
    manifest = mix(parse_spec(raw), tmp_path / "a")
    within = manifest["achieved"]["within_diversity"]
    assert set(within["types"]) == set(manifest["achieved"]["task_shares"])
    for entry in within["types"].values():
        assert entry["ci"][0] <= entry["vs"] <= entry["ci"][1]
        assert entry["sampled"] == min(entry["documents"], 1000)
    c = within["combined"]
    assert c["vs"] == pytest.approx(manifest["achieved"]["d1"] * c["within"], rel=1e-3)
    checks = {x.name: x for v in verify(tmp_path / "a").values() for x in v}
    assert checks[
        "within-type diversity matches manifest (seed 0, up to 1000 documents per type)"
    ].ok
    # A bound the mixture cannot meet stops mix before a manifest is written.
    low = min(e["vs"] for e in within["types"].values())
    spec = _write(tmp_path / "s.yaml", {**raw, "diversity": {"within_min": low + 1}})
    assert main(["mix", str(spec), "-o", str(tmp_path / "b")]) == 3
    assert "FAIL within-type VS of" in capsys.readouterr().err
    assert not (tmp_path / "b" / "manifest.json").exists()
    bounds = {"within_min": {"combined": c["vs"] - 0.5, "math": 1.0}}
    spec = _write(tmp_path / "t.yaml", {**raw, "diversity": bounds})
    assert main(["mix", str(spec), "-o", str(tmp_path / "c2")]) == 0
    names = [x.name for v in verify(tmp_path / "c2").values() for x in v if x.ok]
    assert "within-type VS of combined >= " + f"{c['vs'] - 0.5:g}" in names


def test_verify_recomputes_within_from_the_shards(tmp_path):
    corpus = write_corpus(tmp_path / "c", synthetic_docs(1200))
    out = tmp_path / "m"
    mix(parse_spec(synthetic_spec(corpus, tokens=80_000, shard={"rows": 100_000})), out)
    name = "shard-00000.parquet"
    table = pq.read_table(out / name)
    kinds = table["content_type"].to_pylist()
    texts = table["text"].to_pylist()
    # Procedural texts replaced by one text of the same byte length: n_tokens holds,
    # the manifest's sha256 is updated, only the within-type figure can tell.
    first = next(i for i, k in enumerate(kinds) if k == "procedural")
    for i, k in enumerate(kinds):
        if k == "procedural" and len(texts[i].encode()) >= len(texts[first].encode()):
            texts[i] = texts[first] + " " * (len(texts[i].encode()) - len(texts[first].encode()))
    pq.write_table(
        table.set_column(table.schema.get_field_index("text"), "text", [texts]),
        out / name,
        compression="zstd",
    )
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"][0]["sha256"] = file_sha256(out / name)
    (out / "manifest.json").write_text(json.dumps(manifest))
    checks = {x.name: x.ok for v in verify(out).values() for x in v}
    assert checks[f"{name} sha256"]
    assert not checks[
        "within-type diversity matches manifest (seed 0, up to 1000 documents per type)"
    ]
