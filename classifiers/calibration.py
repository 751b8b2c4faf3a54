"""Decision rule and calibration: temperature scaling and the procedural threshold.

Both are fitted on held-out predictions, never on training data: the
temperature on two regimes, sources the model never saw (leave-one-source-out)
and unseen documents of sources it did see, because a model is over-confident
on the first and already calibrated on the second; the threshold on unseen
sources.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from classifiers.metrics import expected_calibration_error

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


# Temperatures tried, on a log grid from 0.5 to 5: ECE is a step function of
# the temperature, so a grid finds its minimum where a smooth optimiser would
# stall, and always the same one.
TEMPERATURES = np.round(np.geomspace(0.5, 5.0, 101), 4)

Predictions = tuple[np.ndarray, np.ndarray]


def argmax_ece(proba: np.ndarray, y_true: np.ndarray) -> float:
    pred = proba.argmax(axis=1)
    return expected_calibration_error(proba[np.arange(len(pred)), pred], pred == y_true)


def fit_temperature(regimes: Sequence[Predictions]) -> float:
    """The temperature whose worst ECE over ``regimes`` ((proba, y_true) pairs) is smallest.

    The regimes are held-out predictions on unseen sources (leave-one-source-out)
    and on unseen documents of seen sources. A corpus to tag mixes documents
    like both, and per ECE bin a mixture's gap is the weighted mean of its
    parts' gaps: its ECE is at most the larger of the two. One temperature
    fitted on unseen sources alone (2.45 for content type) left the seen-source
    ECE at 0.117.
    """
    regimes = [(proba, y_true) for proba, y_true in regimes if len(y_true)]
    if not regimes:
        return 1.0
    worst = [
        max(argmax_ece(Rule(float(t)).calibrate(proba), y_true) for proba, y_true in regimes)
        for t in TEMPERATURES
    ]
    return float(TEMPERATURES[int(np.argmin(worst))])


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


def fit_rule(unseen: Predictions, seen: Predictions, guarded: int | None) -> Rule:
    """Temperature over both regimes, then (for a guarded label) the threshold on unseen
    sources, where precision is hardest to keep."""
    temperature = fit_temperature([unseen, seen])
    if guarded is None:
        return Rule(temperature)
    proba, y_true = unseen
    calibrated = Rule(temperature).calibrate(proba)
    return Rule(temperature, guarded, fit_threshold(calibrated, y_true, guarded))
