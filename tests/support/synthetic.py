"""Synthetic corpora and buckets for the mixture tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mixtures.corpus import BucketTable
from pipeline.schema import DOCS_SCHEMA

# Sample-data sources whose procedural task types each have hundreds of documents, so a
# 1% task share is tens of documents and the sampler's half-document rounding stays small.
SUBSET = [
    "gsm8k.jsonl.gz",
    "tldr.jsonl.gz",
    "thealgorithms_python.jsonl.gz",
    "dudeney_pg16713.jsonl.gz",
    "beeton_household.jsonl.gz",
    "needlework_pg20776.jsonl.gz",
    "wikipedia.jsonl.gz",
    "shrubs_pg10852.jsonl.gz",
    "federalist_pg1404.jsonl.gz",
    "devil.jsonl.gz",
]
TASKS = ("math", "code", "cooking", "reasoning", "science")
LABELS = {"content_type": "label_procedural", "task_type": "input_task_type"}


def synthetic_docs(n: int = 600, seed: int = 0) -> list[dict]:
    """Documents of varied length over procedural/factual/other and five task types."""
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(n):
        task = TASKS[i % len(TASKS)]
        kind = ("procedural", "procedural", "factual", "other", None)[(i // 5) % 5 if i % 7 else 4]
        words = " ".join(f"w{i}x{j}" for j in range(int(rng.integers(20, 200))))
        text = f"{task} {kind} document {i}: {words}"
        docs.append(
            {
                "doc_key": f"src{i % 3}.jsonl:{i}",
                "id": str(i),
                "text": text,
                "source": f"src{i % 3}",
                "source_file": f"src{i % 3}.jsonl",
                "source_row": i,
                "n_chars": len(text),
                "n_tokens": -(-len(text.encode()) // 4),
                "content_hash": hashlib.sha256(text.encode()).hexdigest()[:32],
                "cluster_id": i,
                "cluster_size": 1,
                "label_procedural": kind,
                "license": "CC0",
                "input_task_type": None if i % 11 == 0 else task,
            }
        )
    return docs


def write_corpus(folder: Path, docs: list[dict], files: int = 2) -> Path:
    """A prepare-like corpus folder: docs split over ``files`` Parquet files; the fields
    beyond DOCS_SCHEMA (labels, license) are strings."""
    extra = [k for k in docs[0] if k not in DOCS_SCHEMA.names]
    schema = pa.schema([*DOCS_SCHEMA, *(pa.field(k, pa.string()) for k in extra)])
    (folder / "docs").mkdir(parents=True, exist_ok=True)
    for f in range(files):
        part = docs[f::files]
        pq.write_table(
            pa.Table.from_pylist(part, schema=schema),
            folder / "docs" / f"{f:05d}.parquet",
            row_group_size=97,
        )
    return folder


def subset_spec(corpus: Path, **change) -> dict:
    """A spec for a prepared SUBSET corpus on its structural labels: 2M tokens, procedural
    share 0.5, D1 3."""
    raw = {
        "name": "t",
        "corpus": str(corpus),
        "tokens": 2_000_000,
        "procedural_share": 0.5,
        "diversity": {"d1": 3.0},
        "shard": {"rows": 5000},
        "labels": LABELS,
    }
    return {**raw, **change}


def synthetic_spec(corpus: Path, **change) -> dict:
    """A spec for a synthetic corpus: 150k tokens, procedural share 0.4, natural task shares."""
    base = {
        "name": "s",
        "corpus": str(corpus),
        "tokens": 150_000,
        "procedural_share": 0.4,
        "labels": LABELS,
    }
    return {**base, **change}


def bucket_table(tokens: dict[tuple[str, str], list[int]], factual: int = 10**7) -> BucketTable:
    """Procedural buckets {(source, task): [tokens]} as given, plus one factual bucket."""
    rows = [
        (source, "procedural", task, 100, t)
        for (source, task), values in tokens.items()
        for t in values
    ]
    rows = [(f"{s}{i}", c, t, d, n) for i, (s, c, t, d, n) in enumerate(rows)]
    rows.append(("web", "factual", "other", 1000, factual))
    return BucketTable.from_rows(rows)
