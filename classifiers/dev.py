"""The development set's part in a recipe: the shipped rule and confusion come from it.

``../shared/dev`` holds whole sources that no training file has, built like the
team's held-out evaluation. A shipped model scores it once; its decision rule
(temperature, procedural threshold) and ``P(true | predicted)`` are fitted on
those predictions, never on training data. The figures reported for it are
cross-fitted: a dev source's documents are decided by a rule fitted on the
other dev sources only, so the report does not score the rule on the documents
that chose it. The web pages are reported apart as well (their labels come
from an annotator model, the others' from each source's structure).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from classifiers.calibration import Rule, fit_temperature, fit_threshold
from classifiers.dataset import Doc
from classifiers.metrics import evaluate, p_true_given_pred
from classifiers.taxonomy import LABELS

# The dev source whose figures are also reported alone.
WEB_SOURCE = "web_crawl"
# Top-probability floors of the abstention curve (documents below one are set aside).
ABSTAIN_FLOORS = tuple(round(0.3 + 0.05 * i, 2) for i in range(14))


@dataclass
class DevPredictions:
    """A model's raw probabilities on the dev documents that carry the head's label."""

    y_true: np.ndarray
    proba: np.ndarray
    sources: np.ndarray

    @classmethod
    def of(cls, head: str, docs: Sequence[Doc], proba: np.ndarray) -> DevPredictions:
        labels = LABELS[head]
        return cls(
            np.array([labels.index(d.labels[head]) for d in docs], dtype=np.int64),
            proba,
            np.array([d.source for d in docs]),
        )


def labelled(docs: Sequence[Doc], head: str) -> list[Doc]:
    return [d for d in docs if d.labels[head] is not None]


def dev_rule(proba: np.ndarray, y_true: np.ndarray, guarded: int | None) -> Rule:
    """Temperature minimising ECE on these predictions; then, for a guarded label, the
    threshold maximising its F0.5."""
    rule = Rule(fit_temperature([(proba, y_true)]))
    if guarded is None or not len(y_true):
        return rule
    threshold = fit_threshold(rule.calibrate(proba), y_true, guarded)
    return Rule(rule.temperature, guarded, threshold)


def cross_fitted(pred: DevPredictions, guarded: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated probabilities and decisions, each dev source's by the other sources' rule."""
    calibrated = np.zeros_like(pred.proba)
    decided = np.zeros(len(pred.y_true), dtype=np.int64)
    for source in np.unique(pred.sources):
        mine = pred.sources == source
        rule = dev_rule(pred.proba[~mine], pred.y_true[~mine], guarded)
        calibrated[mine] = rule.calibrate(pred.proba[mine])
        decided[mine] = rule.decide(calibrated[mine])
    return calibrated, decided


def abstention_curve(
    labels: Sequence[str], y_true: np.ndarray, decided: np.ndarray, calibrated: np.ndarray
) -> list[dict]:
    """Per floor on the decided label's probability: the share of documents kept
    (coverage), their accuracy, and each label's precision among them."""
    top = calibrated[np.arange(len(decided)), decided]
    curve = []
    for floor in ABSTAIN_FLOORS:
        kept = top >= floor
        row = {"min_confidence": floor, "coverage": round(float(kept.mean()), 4)}
        right = decided[kept] == y_true[kept]
        row["accuracy"] = round(float(right.mean()), 4) if kept.any() else None
        for i, label in enumerate(labels):
            called = kept & (decided == i)
            row[f"{label}_precision"] = (
                round(float((y_true[called] == i).mean()), 4) if called.any() else None
            )
        curve.append(row)
    return curve


def dev_report(head: str, pred: DevPredictions, guarded: int | None) -> dict:
    """Cross-fitted dev figures (all, web part, books part, per source), the raw argmax
    figures, the abstention curve, and the rule and confusion fitted on all of dev."""
    labels = LABELS[head]
    calibrated, decided = cross_fitted(pred, guarded)
    report = evaluate(labels, pred.y_true, decided, calibrated)
    web = pred.sources == WEB_SOURCE
    for name, part in (("web", web), ("books", ~web)):
        report[name] = evaluate(labels, pred.y_true[part], decided[part], calibrated[part])
        del report[name]["confusion"]
    raw = pred.proba.argmax(axis=1)
    report["raw"] = evaluate(labels, pred.y_true, raw, pred.proba)
    del report["raw"]["confusion"]
    report["per_source"] = {
        str(source): {
            "n": int(mine.sum()),
            "labels": sorted({labels[i] for i in pred.y_true[mine]}),
            "accuracy": round(float((decided[mine] == pred.y_true[mine]).mean()), 4),
        }
        for source in np.unique(pred.sources)
        for mine in [pred.sources == source]
    }
    report["abstention"] = abstention_curve(labels, pred.y_true, decided, calibrated)
    report["p_true_given_pred"] = p_true_given_pred(np.array(report["confusion"]))
    return report
