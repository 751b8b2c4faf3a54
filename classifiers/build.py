"""``procmix train-classifiers``: LOSO estimate, decision rule, shipped models, report."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from classifiers.card import render_card
from classifiers.dataset import Doc, pool, read_docs
from classifiers.loso import estimate_report, final_rule, predict_held_out
from classifiers.metrics import p_true_given_pred
from classifiers.model import confusion_path, meta_path, model_path
from classifiers.preprocess import STOPWORDS, WINDOW_CHARS
from classifiers.taxonomy import HEADS, LABELS
from classifiers.train import LineCache, TrainParams, fit
from procmix_core.hashing import file_sha256

REPORT = "report.json"


def train_head(
    docs: Sequence[Doc],
    head: str,
    out: Path,
    params: TrainParams,
    cache: LineCache,
    log: Callable[[str], None],
) -> dict:
    """Held-out estimates, rule, then the shipped model and its JSON files."""
    params = params.for_head(head)
    log(f"{head}: leave-one-source-out and in-distribution estimates")
    estimate = predict_held_out(docs, head, params, cache, log)
    scores = estimate_report(estimate, head)
    loso = scores["loso"]
    rule = final_rule(estimate, head)
    log(f"{head}: final model")
    labels = list(LABELS[head])
    pairs = pool(docs, head, params.cap_per_source, params.seed)
    path = model_path(out, head)
    lines = cache.lines([d for d, _ in pairs])
    fit(lines, [label for _, label in pairs], params, quantize=True).save_model(str(path))
    digest = file_sha256(path)
    version = f"{datetime.date.today():%Y%m%d}-{digest[:8]}"
    confusion = {
        "model": path.name,
        "sha256": digest,
        "version": version,
        "labels": labels,
        "p_true_given_pred": p_true_given_pred(np.array(loso["confusion"])),
    }
    confusion_path(out, head).write_text(json.dumps(confusion, indent=1) + "\n")
    meta = {
        "head": head,
        "version": version,
        "labels": labels,
        "rule": {
            "temperature": rule.temperature,
            "guarded": rule.guarded,
            "threshold": rule.threshold,
        },
        "params": params.as_dict(),
        "word_vectors_sha256": file_sha256(params.word_vectors) if params.word_vectors else None,
        "window_chars": WINDOW_CHARS,
        "stopwords": sorted(STOPWORDS),
        "training_documents": len(pairs),
    }
    meta_path(out, head).write_text(json.dumps(meta, indent=1) + "\n")
    return {
        "meta": meta,
        "size_bytes": path.stat().st_size,
        **scores,
    }


def train_classifiers(
    data: Path,
    out: Path,
    params: TrainParams,
    log: Callable[[str], None],
    bench: dict | None = None,
) -> dict:
    """Train both heads from the labelled JSONL under ``data`` into ``out``; return the report.

    ``bench``: the tagging bench's figures for the model card (``render_card``), if any.
    """
    out.mkdir(parents=True, exist_ok=True)
    docs = list(read_docs(data, log))
    log(f"read {len(docs)} documents from {data}")
    cache = LineCache()
    report = {head: train_head(docs, head, out, params, cache, log) for head in HEADS}
    (out / REPORT).write_text(json.dumps(report, indent=1) + "\n")
    render_card(out, bench)
    return report
