"""Abstention: the spec's ``labels.min_confidence`` sets aside documents the classifier
was unsure of, so that a mixture is drawn from confidently tagged documents only.

A document's confidence is the probability of the content type it was given
(``p_<content_type>``) and, when that is procedural, also the probability of its
task type (``task_p``). A document with either below the threshold, or null, is
set aside: it is a candidate for no block of the mixture. docs/mixtures.md
("labels") states the rule for users.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from classifiers.taxonomy import CONTENT_LABELS, PROCEDURAL

# pipeline/schema.py's TAG_SCHEMA names (mixtures may not import pipeline; a test
# holds the two together).
CONTENT_P = {label: f"p_{label}" for label in CONTENT_LABELS}
TASK_P = "task_p"
PROBABILITY_COLUMNS = (*CONTENT_P.values(), TASK_P)


def missing_columns(names: list[str]) -> list[str]:
    """The probability columns a docs file with columns ``names`` lacks."""
    return [c for c in PROBABILITY_COLUMNS if c not in names]


def _values(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Probabilities as float64 (stored float32 widened exactly, as DuckDB's DOUBLE
    cast does), null as nan, which no comparison passes."""
    return pc.fill_null(column.cast(pa.float64()), np.nan).to_numpy()


def set_aside(
    table: pa.Table, content_type: str, min_confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """The rule: which rows of ``table`` (``content_type`` and ``PROBABILITY_COLUMNS``)
    are set aside, and which of those for a null label or probability (a procedural
    document's ``task_p`` counts; another's does not)."""
    label = pc.fill_null(table[content_type].cast(pa.string()), "").to_numpy(zero_copy_only=False)
    procedural = label == PROCEDURAL
    confidence = np.full(table.num_rows, np.nan)
    for name, column in CONTENT_P.items():
        mine = label == name
        confidence[mine] = _values(table[column])[mine]
    task = np.where(procedural, _values(table[TASK_P]), 1.0)
    null = np.isnan(confidence) | np.isnan(task)
    return ~((confidence >= min_confidence) & (task >= min_confidence)), null


def record(
    min_confidence: float, content_type: pa.Array, tokens: np.ndarray, null_documents: int
) -> dict:
    """The manifest's ``corpus.abstained``: what was set aside, in total and per predicted
    content type (``content_type`` and ``tokens`` of the documents set aside)."""
    labels = content_type.to_numpy(zero_copy_only=False)
    by_type = {
        name: {
            "documents": int((labels == name).sum()),
            "tokens": int(tokens[labels == name].sum()),
        }
        for name in CONTENT_LABELS
    }
    return {
        "min_confidence": min_confidence,
        "documents": len(labels),
        "tokens": int(tokens.sum()),
        "by_content_type": by_type,
        "null_probability_documents": null_documents,
    }
