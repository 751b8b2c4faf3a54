"""Diversity figures: Hill numbers over task-type token shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def shares(tokens: Mapping[str, float]) -> dict[str, float]:
    total = float(sum(tokens.values()))
    return {k: (v / total if total else 0.0) for k, v in tokens.items()}


def entropy(p: np.ndarray) -> float:
    p = np.asarray(p, dtype=float)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def hill(p: Sequence[float] | np.ndarray, q: float) -> float:
    """Hill number of order ``q``: D0 = types present, D1 = exp(entropy), D2 = inverse Simpson."""
    p = np.asarray(p, dtype=float)
    p = p[p > 0]
    if p.size == 0:
        return 0.0
    p = p / p.sum()
    if q == 1:
        return float(np.exp(entropy(p)))
    return float((p**q).sum() ** (1.0 / (1.0 - q)))


def hill_numbers(tokens: Mapping[str, float]) -> dict[str, float]:
    p = np.array(list(tokens.values()), dtype=float)
    return {"d0": hill(p, 0), "d1": hill(p, 1), "d2": hill(p, 2)}


def corrected_shares(
    predicted: Mapping[str, float], labels: Sequence[str], p_true_given_pred: np.ndarray
) -> dict[str, float]:
    """Expected true shares: y_true[j] = sum_i y_pred[i] * P(true j | predicted i)."""
    y = np.array([predicted.get(label, 0.0) for label in labels], dtype=float)
    return dict(zip(labels, (y @ p_true_given_pred).tolist(), strict=True))
