"""``procmix eval-classifiers``: score the shipped (or given) models on labelled JSONL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from classifiers.dataset import read_docs
from classifiers.loso import loso_report, predict_held_out
from classifiers.metrics import evaluate
from classifiers.model import MODELS_DIR, Head
from classifiers.preprocess import preprocess
from classifiers.taxonomy import HEADS
from classifiers.train import LineCache, TrainParams


def evaluate_models(labelled: Path, models: Path = MODELS_DIR) -> dict:
    """Per head, metrics over the documents that carry that head's label (nulls skipped)."""
    docs = list(read_docs(labelled))
    report = {}
    for name in HEADS:
        head = Head.load(models, name)
        scored = [d for d in docs if d.labels[name] is not None]
        proba, decided = head.predict(preprocess([d.text for d in scored]))
        y_true = np.array([head.labels.index(d.labels[name]) for d in scored], dtype=np.int64)
        report[name] = evaluate(head.labels, y_true, decided, proba)
    return report


def format_head(name: str, result: dict) -> str:
    """One head's figures as plain-text tables."""
    labels = list(result["per_class"])
    lines = [
        f"{name}: {result['n']} documents  accuracy {result['accuracy']:.4f}  "
        f"macro-F1 {result['macro_f1']:.4f}  ECE {result['ece']:.4f}",
        f"  {'label':<14}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}",
    ]
    for label, s in result["per_class"].items():
        lines.append(
            f"  {label:<14}{s['precision']:>10.4f}{s['recall']:>10.4f}{s['f1']:>10.4f}"
            f"{s['support']:>10}"
        )
    width = max(6, *(len(label) for label in labels)) + 1
    lines.append("  confusion (rows: true, columns: predicted)")
    lines.append("  " + " " * width + "".join(f"{label[: width - 1]:>{width}}" for label in labels))
    for label, row in zip(labels, result["confusion"], strict=True):
        lines.append(f"  {label:<{width}}" + "".join(f"{v:>{width}}" for v in row))
    if "per_source" in result:
        lines.append(f"  held-out sources (mean accuracy {result['mean_source_accuracy']:.4f})")
        for source, s in result["per_source"].items():
            lines.append(
                f"  {source:<26}{s['n']:>6}  {s['accuracy']:.4f}  {', '.join(s['labels'])}"
            )
    return "\n".join(lines)


def loso_models(data: Path, params: TrainParams, log: Callable[[str], None]) -> dict:
    """Per head, pooled leave-one-source-out metrics of the training recipe on ``data``."""
    docs = list(read_docs(data))
    cache = LineCache()
    return {
        name: loso_report(predict_held_out(docs, name, params, cache, log), name) for name in HEADS
    }
