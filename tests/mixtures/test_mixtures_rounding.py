"""Joint rounding: on corpora unlike the sample (heavy-tailed document sizes, few or
many sources and task types, budgets from 50 documents up), every mixture mix
publishes passes verify, and a mixture whole documents cannot give exits 3 naming
the granularity, with no manifest."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mixtures.mix import SelfCheckFailed, mix, open_corpus, problem_for
from mixtures.optimiser import budget, check, d1_range
from mixtures.spec import parse_spec
from mixtures.verify import passed, verify
from procmix_cli import main
from support.data import read_jsonl_gz
from support.synthetic import LABELS, synthetic_docs, synthetic_spec, write_corpus

CONTENT = ("procedural", "factual", "other")


def sized_docs(rng: np.random.Generator, n: int, sources: int, tasks: int, sigma: float):
    """Documents with lognormal token counts; sources and task types drawn with
    uneven (Dirichlet) weights, so some are large and some hold a handful."""
    sizes = np.minimum(np.ceil(rng.lognormal(4.5, sigma, n)), 20_000).astype(int)
    source = rng.choice(sources, n, p=rng.dirichlet(np.ones(sources)))
    task = rng.choice(tasks, n, p=rng.dirichlet(np.full(tasks, 0.7)))
    content = rng.choice(3, n, p=rng.dirichlet(np.full(3, 2.0)))
    docs = []
    for i in range(n):
        head = f"doc {i} "
        text = head + "z" * max(1, 4 * int(sizes[i]) - len(head))
        docs.append(
            {
                "doc_key": f"s{source[i]}.jsonl:{i}",
                "id": str(i),
                "text": text,
                "source": f"s{source[i]}",
                "source_file": f"s{source[i]}.jsonl",
                "source_row": i,
                "n_chars": len(text),
                "n_tokens": -(-len(text.encode()) // 4),
                "content_hash": f"{i:032x}",
                "cluster_id": i,
                "cluster_size": 1,
                "label_procedural": CONTENT[content[i]],
                "license": "CC0",
                "input_task_type": f"t{task[i]}",
            }
        )
    return docs


@pytest.mark.slow
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(300, 2500),
    sources=st.integers(1, 30),
    tasks=st.integers(1, 12),
    sigma=st.floats(0.3, 2.0),
    budget_docs=st.floats(0.0, 1.0),
    share_at=st.floats(0.05, 0.95),
    d1_at=st.one_of(st.none(), st.floats(0.05, 0.95)),
)
def test_every_published_mixture_passes_verify_or_mix_names_granularity(
    seed, n, sources, tasks, sigma, budget_docs, share_at, d1_at
):
    rng = np.random.default_rng(seed)
    docs = sized_docs(rng, n, sources, tasks, sigma)
    total = sum(d["n_tokens"] for d in docs)
    # From 50 mean documents to 90% of the corpus, log-uniformly.
    low = min(50 * total / n, 0.9 * total)
    tokens = int(low * (0.9 * total / low) ** budget_docs)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = write_corpus(Path(tmp) / "c", docs)
        raw = synthetic_spec(corpus, tokens=tokens, seed=seed % 7, shard={"rows": 500})
        spec = parse_spec({**raw, "procedural_share": 0.5})
        lo, hi = budget(problem_for(spec, open_corpus(spec))).share_range
        raw["procedural_share"] = round(lo + share_at * (hi - lo), 4)
        if d1_at is not None:
            spec = parse_spec(raw)
            path, reasons = check(problem_for(spec, open_corpus(spec)))
            if path is not None and not reasons:
                d_lo, d_hi = d1_range(path)
                raw["diversity"] = {"d1": round(d_lo + d1_at * (d_hi - d_lo), 3)}
        out = Path(tmp) / "m"
        try:
            mix(parse_spec(raw), out)
        except SelfCheckFailed as e:
            assert e.reasons and all(r.startswith("granularity: ") for r in e.reasons)
            assert not (out / "manifest.json").exists()
            return
        assert passed(verify(out)), raw


def _write(path: Path, raw: dict) -> Path:
    path.write_text(json.dumps(raw))
    return path


def test_mix_that_whole_documents_cannot_give_exits_3_without_a_manifest(tmp_path, capsys):
    # 60,000 tokens of this corpus mix fine; at 40,000 the "other" task type is planned
    # at 5.8 documents and no choice of whole documents holds every share to tolerance.
    corpus = write_corpus(tmp_path / "c", synthetic_docs(600))
    spec = _write(tmp_path / "s.json", synthetic_spec(corpus, tokens=40_000, shard={"rows": 50}))
    out = tmp_path / "m"
    assert main(["mix", str(spec), "-o", str(out)]) == 3
    err = capsys.readouterr().err
    assert "FAIL task other share" in err
    assert "granularity: task other is planned at 5.8 mean documents" in err
    assert "interrupted mix" in err
    assert not (out / "manifest.json").exists() and any(out.glob("shard-*.parquet"))
    assert not passed(verify(out))
    # explain says the same before anything is written, and what would do.
    assert main(["explain", str(spec)]) == 0
    text = capsys.readouterr().out
    assert "other          share 0.0682: 5.8 mean documents" in text
    assert "whole documents cannot meet: task other share" in text
    assert "what would: tokens >= " in text
    # A rerun with a larger budget replaces the interrupted mix.
    spec = _write(tmp_path / "s.json", synthetic_spec(corpus, tokens=60_000, shard={"rows": 50}))
    assert main(["mix", str(spec), "-o", str(out), "--overwrite"]) == 0
    assert passed(verify(out))


# Sources of the sample whose documents are large (manual chapters, book sections).
BIG_DOCUMENTS = (
    "aosa_posa.jsonl.gz",
    "debian_handbook.jsonl.gz",
    "rust_book.jsonl.gz",
    "openstax_astronomy.jsonl.gz",
    "boy_scouts_handbook_pg29558.jsonl.gz",
    "etiquette_post_pg14314.jsonl.gz",
    "dudeney_pg16713.jsonl.gz",
    "learnxinyminutes.jsonl.gz",
    "thealgorithms_python.jsonl.gz",
    "pg_essays_opinion.jsonl.gz",
)


@pytest.fixture(scope="module")
def big_documents(data_dir, tmp_path_factory) -> Path:
    """~2,500 real documents of 10 sources, labels from the sources' structure."""
    docs = []
    for name in BIG_DOCUMENTS:
        for row, r in enumerate(read_jsonl_gz(name, 250)):
            text = r["text"]
            docs.append(
                {
                    "doc_key": f"{name}:{row}",
                    "id": r["id"],
                    "text": text,
                    "source": r["source"],
                    "source_file": name,
                    "source_row": row,
                    "n_chars": len(text),
                    "n_tokens": -(-len(text.encode()) // 4),
                    "content_hash": f"{len(docs):032x}",
                    "cluster_id": len(docs),
                    "cluster_size": 1,
                    "label_procedural": r["label_procedural"],
                    "license": r["license"],
                    "input_task_type": r.get("task_type"),
                }
            )
    return write_corpus(tmp_path_factory.mktemp("big") / "corpus", docs)


def test_small_budget_sweep_of_big_documents_hits_every_target(big_documents, tmp_path):
    spec = {
        "name": "big",
        "corpus": str(big_documents),
        "tokens": 400_000,
        "procedural_share": 0.4,
        "seed": 7,
        "labels": LABELS,
        "shard": {"mb": 1},
    }
    out = tmp_path / "sw"
    assert (
        main(["sweep", str(_write(tmp_path / "s.json", spec)), "--levels", "2,3,4", "-o", str(out)])
        == 0
    )
    results = verify(out)
    assert passed(results), [c for checks in results.values() for c in checks if not c.ok]
    arms = json.loads((out / "sweep.json").read_text())["arms"]
    for arm in arms:
        assert abs(arm["tokens"] - 400_000) <= 0.005 * 400_000
        assert math.isclose(arm["d1"], arm["d1_target"], rel_tol=0.01)
    # Nested group by group: per task type, an arm holding fewer of its documents
    # holds a subset of another arm's.
    by_task: dict[str, list[set[str]]] = {}
    for arm in arms:
        files = sorted(str(f) for f in (out / arm["arm"]).glob("shard-*.parquet"))
        table = pq.ParquetDataset(files).read(columns=["doc_key", "content_type", "task_type"])
        keys: dict[str, set[str]] = {}
        for row in table.to_pylist():
            if row["content_type"] == "procedural":
                keys.setdefault(row["task_type"], set()).add(row["doc_key"])
        for task, taken in keys.items():
            by_task.setdefault(task, []).append(taken)
    for task, taken in by_task.items():
        taken.sort(key=len)
        assert all(a <= b for a, b in zip(taken, taken[1:], strict=False)), task
    assert any(len(t[0]) < len(t[-1]) for t in by_task.values())
