"""``procmix train-classifiers``: LOSO estimate, decision rule, shipped models, report."""

from __future__ import annotations

import datetime
import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from classifiers.card import render_card
from classifiers.dataset import Doc, pool, read_docs
from classifiers.loso import final_rule, loso_report, predict_held_out
from classifiers.metrics import evaluate, p_true_given_pred
from classifiers.model import (
    confusion_path,
    meta_path,
    model_path,
    sha256,
)
from classifiers.preprocess import STOPWORDS, WINDOW_CHARS
from classifiers.taxonomy import HEADS, LABELS
from classifiers.train import FitJob, LineCache, TrainParams, run_fits

REPORT = "report.json"
IN_DISTRIBUTION_SHARE = 0.1


def in_distribution_split(
    pairs: Sequence[tuple[Doc, str]], params: TrainParams
) -> tuple[list[tuple[Doc, str]], list[Doc]]:
    """The pool's (doc, label) pairs minus a random 10% of its documents, and that 10%."""
    distinct = list(dict.fromkeys(d for d, _ in pairs))
    held = set(
        random.Random(params.seed).sample(distinct, round(len(distinct) * IN_DISTRIBUTION_SHARE))
    )
    return [(d, label) for d, label in pairs if d not in held], [d for d in distinct if d in held]


def train_head(
    docs: Sequence[Doc],
    head: str,
    out: Path,
    params: TrainParams,
    cache: LineCache,
    log: Callable[[str], None],
) -> dict:
    """LOSO, rule, in-distribution score, then the shipped model and its JSON files."""
    params = params.for_head(head)
    log(f"{head}: leave-one-source-out")
    held = predict_held_out(docs, head, params, cache, log)
    loso = loso_report(held, head)
    rule = final_rule(held, head)
    log(f"{head}: in-distribution split and final model")
    labels = list(LABELS[head])
    pairs = pool(docs, head, params.cap_per_source, params.seed)
    train, test = in_distribution_split(pairs, params)
    path = model_path(out, head)
    jobs = [
        FitJob(
            cache.lines([d for d, _ in train]),
            [label for _, label in train],
            cache.lines(test),
            LABELS[head],
        ),
        FitJob(cache.lines([d for d, _ in pairs]), [label for _, label in pairs], save_to=path),
    ]
    test_proba, _ = run_fits(jobs, params)
    calibrated = rule.calibrate(test_proba)
    y_true = np.array([labels.index(d.labels[head]) for d in test], dtype=np.int64)
    in_dist = evaluate(LABELS[head], y_true, rule.decide(calibrated), calibrated)
    digest = sha256(path)
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
        "word_vectors_sha256": sha256(params.word_vectors) if params.word_vectors else None,
        "window_chars": WINDOW_CHARS,
        "stopwords": sorted(STOPWORDS),
        "training_documents": len(pairs),
    }
    meta_path(out, head).write_text(json.dumps(meta, indent=1) + "\n")
    return {
        "meta": meta,
        "size_bytes": path.stat().st_size,
        "loso": loso,
        "in_distribution": in_dist,
    }


def train_classifiers(
    data: Path, out: Path, params: TrainParams, log: Callable[[str], None]
) -> dict:
    """Train both heads from the labelled JSONL under ``data`` into ``out``; return the report."""
    out.mkdir(parents=True, exist_ok=True)
    docs = list(read_docs(data))
    log(f"read {len(docs)} documents from {data}")
    cache = LineCache()
    report = {head: train_head(docs, head, out, params, cache, log) for head in HEADS}
    (out / REPORT).write_text(json.dumps(report, indent=1) + "\n")
    render_card(out)
    return report
