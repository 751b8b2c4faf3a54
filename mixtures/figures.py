"""A mixture's figures from its per-bucket tokens: the same code for the
manifest (from the selection) and for verify (from the shards)."""

from __future__ import annotations

import hashlib
from collections import defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from classifiers.taxonomy import PROCEDURAL
from mixtures import metrics
from mixtures.corpus import group_name
from mixtures.optimiser import Confusion

BucketKey = tuple[str, str, str]  # (source, content_type, task_type)


def figures(tokens: dict[BucketKey, float], confusion: Confusion | None = None) -> dict:
    """Tokens, procedural share, Hill numbers, task and source shares of a mixture."""
    total = float(sum(tokens.values()))
    task_tokens: dict[str, float] = defaultdict(float)
    source_tokens: dict[str, float] = defaultdict(float)
    for (source, content_type, task), n in sorted(tokens.items()):
        source_tokens[source] += n
        if content_type == PROCEDURAL and n > 0:
            task_tokens[task] += n
    procedural = float(sum(task_tokens.values()))
    result = {
        "tokens": int(round(total)),
        "procedural_tokens": int(round(procedural)),
        "procedural_share": procedural / total if total else 0.0,
        **metrics.hill_numbers(task_tokens),
        "task_shares": metrics.shares(dict(task_tokens)),
        "source_shares": metrics.shares(dict(source_tokens)),
    }
    if confusion is not None:
        true = metrics.corrected_shares(
            result["task_shares"], confusion.labels, confusion.p_true_given_pred
        )
        result["d1_true"] = metrics.hill(np.array(list(true.values())), 1)
    return result


def by_group(values: dict[BucketKey, float]) -> dict[str, dict[str, float]]:
    """Per-bucket values summed per source inside each procedural task type
    (``procedural/<task>``) and inside the factual/other block (``factual+other``)."""
    groups: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (source, content_type, task), n in sorted(values.items()):
        groups[group_name(content_type, task)][source] += n
    return {g: dict(s) for g, s in groups.items()}


def source_shares_by_group(tokens: dict[BucketKey, float]) -> dict[str, dict[str, float]]:
    """Source shares inside each procedural task type, and inside the factual/other block."""
    return {g: metrics.shares(s) for g, s in by_group(tokens).items()}


def block_digest(keys: list[str], epochs: np.ndarray) -> str:
    """sha256 of the sorted (doc_key, epoch) pairs of a block: equal iff same documents."""
    table = pa.table(
        {"doc_key": pa.array(keys, pa.string()), "epoch": np.asarray(epochs, dtype=np.int64)}
    )
    table = table.sort_by([("doc_key", "ascending"), ("epoch", "ascending")])
    lines = pc.binary_join_element_wise(
        table["doc_key"], pc.cast(table["epoch"], pa.string()), "\t"
    )
    return hashlib.sha256("\n".join(lines.to_pylist()).encode()).hexdigest()
