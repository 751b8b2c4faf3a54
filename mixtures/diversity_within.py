"""Within-type diversity: the Vendi score of each procedural task type's documents,
and the combined figure ``VS = D1 * prod_t VS_t ** p_t``.

The Vendi score of order 1 (Friedman and Dieng 2023) is ``exp(-sum l ln l)`` over
the eigenvalues ``l`` of ``K / n``, ``K`` the cosine-similarity matrix of ``n``
documents. With unit-length embeddings ``E`` (n x d), ``K / n = E E^T / n``
has the same non-zero eigenvalues as ``E^T E / n`` (d x d), so the score costs
O(n d^2) and never builds the n x n kernel. It runs from 1 (all documents alike)
to ``min(n, d)``.

Each type is measured on a seeded, source-stratified sample of its distinct
documents (default 1,000, all of them when it has fewer), with a bootstrap
interval over the sampled documents. The combined figure is exact for the
product kernel ``k((t, x), (t', x')) = [t = t'] * cos(x, x')`` with task types
weighted by their token shares ``p_t`` (the shares D1 is computed on).
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from threadpoolctl import threadpool_limits

from mixtures.embedding import EmbeddingModel, embed, load_model
from mixtures.metrics import entropy
from mixtures.sampler import base_hashes, seeded_keys

DEFAULT_SAMPLE = 1000
BOOTSTRAP = 200
INTERVAL = (2.5, 97.5)  # percentiles of the bootstrap replicates (a 95% interval)
# The sampler's selection and order use streams 0 and 1.
WITHIN_STREAM = 2
# Figures are rounded so that the last bits of a BLAS kernel, which can differ
# between processors, never change a manifest's bytes.
DECIMALS = 4


def vendi(embeddings: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Vendi score of unit-length rows through the d x d dual form; ``weights``
    (summing to 1, default uniform) weigh the rows, as repeated rows would."""
    n = len(embeddings)
    if n == 0:
        return 0.0
    w = np.full(n, 1.0 / n) if weights is None else weights
    eig = np.linalg.eigvalsh(embeddings.T @ (embeddings * w[:, None]))
    return float(np.exp(entropy(eig[eig > 1e-12])))


def stratified_sample(keys: np.ndarray, sources: np.ndarray, n: int) -> np.ndarray:
    """Indices of ``n`` rows (all when there are fewer): each source gets its share of
    ``n`` by document count (largest remainder, ties to the larger source, then the
    name) and takes its rows with the smallest seeded keys."""
    if len(keys) <= n:
        return np.arange(len(keys))
    names, inverse, counts = np.unique(sources, return_inverse=True, return_counts=True)
    exact = counts * n / len(keys)
    quota = np.floor(exact).astype(np.int64)
    rest = np.lexsort((names, -counts, -(exact - quota)))[: n - quota.sum()]
    quota[rest] += 1
    order = np.lexsort((keys, inverse))
    ranked = inverse[order]
    start = np.searchsorted(ranked, np.arange(len(names)))
    rank = np.arange(len(order)) - start[ranked]
    return np.sort(order[rank < quota[ranked]])


def _type_seed(seed: int, task: str) -> np.random.SeedSequence:
    """A bootstrap stream per (seed, task type): independent of which other types exist."""
    return np.random.SeedSequence([seed, zlib.crc32(task.encode())])


def _bootstrap_logs(embeddings: np.ndarray, seed: np.random.SeedSequence) -> np.ndarray:
    """ln VS of ``BOOTSTRAP`` resamples of the rows (multinomial weights, same dual form)."""
    n = len(embeddings)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=BOOTSTRAP)
    return np.log([vendi(embeddings, c / n) for c in counts])


def _rounded(x: float) -> float:
    return round(float(x), DECIMALS)


def _interval(log_vs: float, replicates: np.ndarray) -> list[float]:
    """The figure's sampling spread: percentiles of the replicates' ln VS, re-centred on
    the estimate. A resample repeats documents, which lowers its score (as a plug-in
    entropy's); re-centring keeps that shift out of the interval, which then says how
    far another sample of the same size would move the figure."""
    low, high = np.percentile(replicates - replicates.mean() + log_vs, INTERVAL)
    return [_rounded(math.exp(low)), _rounded(math.exp(high))]


def figures(
    table: pa.Table,
    task_shares: dict[str, float],
    documents: dict[str, int],
    sample: int,
    seed: int,
    model: EmbeddingModel,
) -> dict:
    """Per task type and combined, from ``table`` (doc_key, task_type, text: the
    sampled documents) and the token shares of the procedural task types."""
    tasks = np.asarray(table["task_type"].to_pylist(), dtype=object)
    vectors = embed(table["text"], model)
    known = np.linalg.norm(vectors, axis=1) > 0
    types, logs, replicates = {}, {}, {}
    # One BLAS thread: as fast here (d = 64) and the same bits on any core count.
    with threadpool_limits(1):
        for task in sorted(task_shares):
            rows = np.flatnonzero((tasks == task) & known)
            types[task] = {
                "documents": documents.get(task, 0),
                "sampled": int((tasks == task).sum()),
                "embedded": len(rows),
                "vs": None,  # stays None when no sampled document has a word of the model
                "ci": None,
            }
            if len(rows):
                logs[task] = math.log(vendi(vectors[rows]))
                replicates[task] = _bootstrap_logs(vectors[rows], _type_seed(seed, task))
                types[task].update(
                    vs=_rounded(math.exp(logs[task])), ci=_interval(logs[task], replicates[task])
                )
    # ln VS = H(p) + sum_t p_t ln VS_t; a type without a figure counts as VS_t = 1.
    log_d1 = entropy(np.array(list(task_shares.values()), dtype=float))
    log_within = sum(task_shares[t] * logs[t] for t in logs)
    within_reps = sum((task_shares[t] * replicates[t] for t in logs), np.zeros(BOOTSTRAP))
    return {
        "model": model.describe(),
        "sample_per_type": sample,
        "seed": seed,
        "bootstrap": BOOTSTRAP,
        "types": types,
        "combined": {
            "d1": _rounded(math.exp(log_d1)) if task_shares else 0.0,
            "within": _rounded(math.exp(log_within)),
            "vs": _rounded(math.exp(log_d1 + log_within)) if task_shares else 0.0,
            "ci": _interval(log_d1 + log_within, log_d1 + within_reps)
            if task_shares
            else [0.0, 0.0],
        },
    }


def measure(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    task_shares: dict[str, float],
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
    model: EmbeddingModel | None = None,
) -> dict:
    """Within-type figures of the procedural documents of ``relation`` (a view or
    subquery with doc_key, source, content_type, task_type, text).

    Two passes: metadata of every distinct procedural document chooses the sample,
    then only the sampled documents' text is read.
    """
    model = model or load_model()
    meta = con.sql(
        f"SELECT doc_key, any_value(source) AS source, any_value(task_type) AS task_type "
        f"FROM {relation} WHERE content_type = 'procedural' GROUP BY doc_key ORDER BY doc_key"
    ).to_arrow_table()
    keys = seeded_keys(base_hashes(meta["doc_key"].to_pylist()), seed, WITHIN_STREAM)
    sources = np.asarray(meta["source"].to_pylist(), dtype=object)
    tasks = np.asarray(meta["task_type"].to_pylist(), dtype=object)
    chosen, documents = [], {}
    for task in sorted(task_shares):
        rows = np.flatnonzero(tasks == task)
        documents[task] = len(rows)
        chosen.append(rows[stratified_sample(keys[rows], sources[rows], sample)])
    picked = meta.take(np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64))
    con.register("within_sample", picked.select(["doc_key"]))
    texts = con.sql(
        f"SELECT doc_key, any_value(text) AS text FROM {relation} "
        "WHERE doc_key IN (SELECT doc_key FROM within_sample) GROUP BY doc_key"
    ).to_arrow_table()
    con.unregister("within_sample")
    text_of = dict(zip(texts["doc_key"].to_pylist(), texts["text"].to_pylist(), strict=True))
    table = picked.append_column(
        "text", pa.array([text_of[k] for k in picked["doc_key"].to_pylist()], pa.large_string())
    )
    return figures(table, task_shares, documents, sample, seed, model)


def of_shards(mixdir: Path, task_shares: dict[str, float], sample: int, seed: int) -> dict:
    """Within-type figures of a mixture folder's shards."""
    con = duckdb.connect()
    glob = str(mixdir / "shard-*.parquet").replace("'", "''")
    relation = f"read_parquet('{glob}')"
    try:
        return measure(con, relation, task_shares, sample, seed)
    finally:
        con.close()
