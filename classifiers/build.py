"""``procmix train-classifiers``: LOSO estimate, decision rule, shipped models, report."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from classifiers.card import render_card
from classifiers.dataset import Doc, pool, read_docs
from classifiers.dev import DevPredictions, dev_report, dev_rule, labelled
from classifiers.loso import estimate_report, final_rule, guarded_label, predict_held_out
from classifiers.metrics import p_true_given_pred
from classifiers.model import confusion_path, meta_path, model_path
from classifiers.preprocess import STOPWORDS, WINDOW_CHARS
from classifiers.taxonomy import HEADS, LABELS
from classifiers.train import LineCache, TrainParams, teacher_pools, train_model
from procmix_core.hashing import file_sha256

REPORT = "report.json"


def train_head(
    docs: Sequence[Doc],
    head: str,
    out: Path,
    params: TrainParams,
    cache: LineCache,
    log: Callable[[str], None],
    dev: Sequence[Doc] = (),
) -> dict:
    """Held-out estimates, the shipped model, its rule and its JSON files.

    With ``dev`` documents (sources in no training file), the shipped model's
    predictions on them give the rule and ``P(true | predicted)``, and the
    report's ``dev`` figures (cross-fitted over dev sources); without, both
    come from the leave-one-source-out predictions."""
    params = params.for_head(head)
    log(f"{head}: leave-one-source-out and in-distribution estimates")
    estimate = predict_held_out(docs, head, params, cache, log)
    scores = estimate_report(estimate, head)
    loso = scores["loso"]
    log(f"{head}: final model")
    labels = list(LABELS[head])
    pairs = pool(docs, head, params.cap_per_source, params.seed)
    path = model_path(out, head, params.kind)
    lines, pool_labels = cache.examples(pairs)
    teachers = [cache.examples(p) for p in teacher_pools(docs, head, params)]
    model = train_model(lines, pool_labels, params, head, final=True, teachers=teachers)
    model.save(path)
    dev_docs = labelled(dev, head)
    if dev_docs:
        proba = model.probabilities(cache.lines(dev_docs), LABELS[head])
        predictions = DevPredictions.of(head, dev_docs, proba)
        scores["dev"] = dev_report(head, predictions, guarded_label(head))
        rule = dev_rule(predictions.proba, predictions.y_true, guarded_label(head))
        rule_fitted_on = "dev"
        confusion_rows = scores["dev"]["p_true_given_pred"]
    else:
        rule = final_rule(estimate, head)
        rule_fitted_on = "loso"
        confusion_rows = p_true_given_pred(np.array(loso["confusion"]))
    digest = file_sha256(path)
    version = f"{datetime.date.today():%Y%m%d}-{digest[:8]}"
    confusion = {
        "model": path.name,
        "sha256": digest,
        "version": version,
        "labels": labels,
        "p_true_given_pred": confusion_rows,
        "estimated_on": rule_fitted_on,
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
        "rule_fitted_on": rule_fitted_on,
        "params": params.as_dict(),
        "word_vectors_sha256": file_sha256(params.word_vectors) if params.word_vectors else None,
        "table_sha256": file_sha256(params.table) if params.uses_table else None,
        "window_chars": WINDOW_CHARS,
        "stopwords": sorted(STOPWORDS),
        "training_documents": len(pairs),
    }
    meta_path(out, head).write_text(json.dumps(meta, indent=1) + "\n")
    return {
        "meta": meta,
        "size_bytes": path.stat().st_size,
        "data": {
            "documents": len(docs),
            "sources": len({d.source for d in docs}),
            "dev_documents": len(dev),
            "dev_sources": len({d.source for d in dev}),
        },
        **scores,
    }


def train_classifiers(
    data: Path,
    out: Path,
    params: TrainParams,
    log: Callable[[str], None],
    bench: dict | None = None,
    dev: Path | None = None,
) -> dict:
    """Train both heads from the labelled JSONL under ``data`` into ``out``; return the report.

    ``bench``: the tagging bench's figures for the model card (``render_card``), if any.
    ``dev``: labelled JSONL of sources in no training file, never trained on;
    the shipped rule and confusion are fitted on the shipped models' predictions there."""
    out.mkdir(parents=True, exist_ok=True)
    docs = list(read_docs(data, log))
    log(f"read {len(docs)} documents from {data}")
    dev_docs = list(read_docs(dev, log)) if dev is not None else []
    if dev_docs:
        log(f"read {len(dev_docs)} development documents from {dev}")
    cache = LineCache()
    report = {head: train_head(docs, head, out, params, cache, log, dev_docs) for head in HEADS}
    (out / REPORT).write_text(json.dumps(report, indent=1) + "\n")
    render_card(out, bench)
    return report
