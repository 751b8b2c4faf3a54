"""Classifier metrics: accuracy, macro-F1, per-class scores, confusion, calibration."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ECE_BINS = 10


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int) -> np.ndarray:
    """Counts with rows = true label, columns = predicted label."""
    matrix = np.zeros((n_labels, n_labels), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray) -> float:
    """ECE over ``ECE_BINS`` equal-width bins of the predicted label's probability."""
    if len(confidence) == 0:
        return 0.0
    bins = np.minimum((confidence * ECE_BINS).astype(int), ECE_BINS - 1)
    total = 0.0
    for b in range(ECE_BINS):
        members = bins == b
        if members.any():
            gap = abs(correct[members].mean() - confidence[members].mean())
            total += members.sum() / len(confidence) * gap
    return float(total)


def p_true_given_pred(matrix: np.ndarray) -> list[list[float]]:
    """Row i: P(true label j | predicted label i). A label never predicted gets the identity row."""
    by_pred = matrix.T.astype(float)
    totals = by_pred.sum(axis=1, keepdims=True)
    rows = np.where(totals > 0, by_pred / np.maximum(totals, 1), np.eye(len(matrix)))
    return [[round(float(v), 6) for v in row] for row in rows]


def evaluate(
    labels: Sequence[str], y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray
) -> dict:
    """Every figure ``eval-classifiers`` reports for one head.

    Macro-F1 averages over the labels that occur in the truth or the
    predictions (a label absent from both says nothing about the model; a
    label the set lacks but the model predicts counts as F1 0).
    ``macro_f1_true_labels`` averages over the labels of the truth only.
    ``proba`` rows are the label probabilities; ECE uses the probability of
    the predicted label.
    """
    matrix = confusion(y_true, y_pred, len(labels))
    per_class = {}
    f1s = []
    true_f1s = []
    for i, label in enumerate(labels):
        tp = int(matrix[i, i])
        support = int(matrix[i].sum())
        predicted = int(matrix[:, i].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": support,
        }
        if support or predicted:
            f1s.append(f1)
        if support:
            true_f1s.append(f1)
    n = len(y_true)
    confidence = proba[np.arange(n), y_pred] if n else np.zeros(0)
    return {
        "n": n,
        "accuracy": round(float((y_true == y_pred).mean()) if n else 0.0, 4),
        "macro_f1": round(float(np.mean(f1s)) if f1s else 0.0, 4),
        "macro_f1_true_labels": round(float(np.mean(true_f1s)) if true_f1s else 0.0, 4),
        "per_class": per_class,
        "confusion": matrix.tolist(),
        "ece": round(expected_calibration_error(confidence, y_true == y_pred), 4),
    }
