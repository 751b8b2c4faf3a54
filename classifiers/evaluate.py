"""``procmix eval-classifiers``: score the shipped (or given) models on labelled JSONL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from classifiers.dataset import Doc, read_docs
from classifiers.loso import estimate_report, guarded_label, predict_held_out
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
    """One head's figures as plain-text tables.

    Macro-F1 is over the union of true and predicted labels: a label the set
    lacks but the model predicts counts as F1 0. Beside it, the mean over the
    labels the set holds only.
    """
    labels = list(result["per_class"])
    lines = [
        f"{name}: {result['n']} documents  accuracy {result['accuracy']:.4f}  "
        f"macro-F1 {result['macro_f1']:.4f} (true labels only "
        f"{result['macro_f1_true_labels']:.4f})  ECE {result['ece']:.4f}",
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


def _loso(
    docs: Sequence[Doc], cache: LineCache, params: TrainParams, log: Callable[[str], None]
) -> dict:
    return {
        name: estimate_report(predict_held_out(docs, name, params, cache, log), name)["loso"]
        for name in HEADS
    }


def loso_models(data: Path, params: TrainParams, log: Callable[[str], None]) -> dict:
    """Per head, pooled leave-one-source-out metrics of the training recipe on ``data``."""
    return _loso(list(read_docs(data, log)), LineCache(), params, log)


# The figures whose spread across seeds says whether a recipe change is more than noise.
SPREAD_FIGURES = ("accuracy", "macro_f1", "ece", "mean_source_accuracy")


def _figures(head: str, result: dict) -> dict[str, float]:
    figures = {name: result[name] for name in SPREAD_FIGURES}
    guarded = guarded_label(head)
    if guarded is not None:
        label = list(result["per_class"])[guarded]
        figures[f"{label}_precision"] = result["per_class"][label]["precision"]
        figures[f"{label}_recall"] = result["per_class"][label]["recall"]
    return figures


def loso_over_seeds(
    data: Path, params: TrainParams, seeds: Sequence[int], log: Callable[[str], None]
) -> dict:
    """The leave-one-source-out report once per seed, and each figure's mean, min and max.

    The seed draws the training pools and fastText's initialisation, so the
    spread is how far a recipe change must move a figure to be more than noise.
    """
    docs = list(read_docs(data, log))
    cache = LineCache()
    runs = {}
    for seed in seeds:
        log(f"seed {seed}")
        runs[str(seed)] = _loso(docs, cache, replace(params, seed=seed), log)
    spread: dict[str, dict] = {}
    for name in HEADS:
        by_seed = [_figures(name, run[name]) for run in runs.values()]
        spread[name] = {
            figure: {
                "mean": round(float(np.mean([f[figure] for f in by_seed])), 4),
                "min": min(f[figure] for f in by_seed),
                "max": max(f[figure] for f in by_seed),
            }
            for figure in by_seed[0]
        }
    return {"seeds": list(seeds), "runs": runs, "spread": spread}


def format_spread(report: dict) -> str:
    """Per head, one row per seed and the mean, min and max of every spread figure."""
    blocks = []
    for name, spread in report["spread"].items():
        width = {figure: max(8, len(figure)) + 2 for figure in spread}
        rows = [(seed, _figures(name, run[name])) for seed, run in report["runs"].items()]
        rows += [(stat, {f: s[stat] for f, s in spread.items()}) for stat in ("mean", "min", "max")]
        lines = [
            f"{name}: leave-one-source-out over seeds {', '.join(map(str, report['seeds']))}",
            f"  {'seed':<6}" + "".join(f"{f:>{w}}" for f, w in width.items()),
        ]
        for label, values in rows:
            lines.append(
                f"  {label:<6}" + "".join(f"{values[f]:>{w}.4f}" for f, w in width.items())
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
