"""Decision rule and calibration: temperature scaling and the procedural threshold.

Both are fitted on leave-one-source-out predictions, so they correct the
over-confidence a model has on sources it never saw, not on its training data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

# The mixtures need procedural documents above all to be procedural: the
# threshold weighs precision twice as much as recall (F-beta, beta = 0.5).
BETA = 0.5
_FLOOR = 1e-9


@dataclass(frozen=True)
class Rule:
    """How probabilities become calibrated probabilities and a label."""

    temperature: float = 1.0
    # Index of the label that needs ``threshold`` to be chosen (None: plain argmax).
    guarded: int | None = None
    threshold: float = 0.0

    def calibrate(self, proba: np.ndarray) -> np.ndarray:
        if self.temperature == 1.0:
            return proba
        logits = np.log(np.maximum(proba, _FLOOR)) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        scaled = np.exp(logits)
        return scaled / scaled.sum(axis=1, keepdims=True)

    def decide(self, calibrated: np.ndarray) -> np.ndarray:
        """Argmax, except that the guarded label below its threshold yields to the runner-up."""
        pred = calibrated.argmax(axis=1)
        if self.guarded is None or len(pred) == 0:
            return pred
        abstain = (pred == self.guarded) & (calibrated[:, self.guarded] < self.threshold)
        if abstain.any():
            others = calibrated[abstain].copy()
            others[:, self.guarded] = -1.0
            pred[abstain] = others.argmax(axis=1)
        return pred


def fit_temperature(proba: np.ndarray, y_true: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of ``y_true``."""
    if len(y_true) == 0:
        return 1.0
    log_p = np.log(np.maximum(proba, _FLOOR))

    def nll(log_t: float) -> float:
        logits = log_p / np.exp(log_t)
        logits -= logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=1))
        return float(np.mean(log_norm - logits[np.arange(len(y_true)), y_true]))

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return round(float(np.exp(result.x)), 4)


def fit_threshold(calibrated: np.ndarray, y_true: np.ndarray, guarded: int) -> float:
    """The probability threshold for ``guarded`` that maximises its F-beta (beta = 0.5)."""
    best, best_score = 0.0, -1.0
    truly = y_true == guarded
    for threshold in np.arange(0.0, 1.0, 0.02):
        chosen = Rule(guarded=guarded, threshold=float(threshold)).decide(calibrated) == guarded
        hits = float((chosen & truly).sum())
        precision = hits / chosen.sum() if chosen.any() else 0.0
        recall = hits / truly.sum() if truly.any() else 0.0
        denominator = BETA**2 * precision + recall
        score = (1 + BETA**2) * precision * recall / denominator if denominator else 0.0
        if score > best_score:
            best, best_score = float(threshold), score
    return round(best, 2)


def fit_rule(proba: np.ndarray, y_true: np.ndarray, guarded: int | None) -> Rule:
    """Temperature, then (for a guarded label) the threshold, fitted on these predictions."""
    temperature = fit_temperature(proba, y_true)
    if guarded is None:
        return Rule(temperature)
    calibrated = Rule(temperature).calibrate(proba)
    return Rule(temperature, guarded, fit_threshold(calibrated, y_true, guarded))
