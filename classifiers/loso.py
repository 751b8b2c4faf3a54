"""Leave-one-source-out evaluation: the honest estimate on sources a model never saw."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from classifiers.calibration import Rule, fit_rule
from classifiers.dataset import Doc, pool
from classifiers.metrics import evaluate
from classifiers.taxonomy import CONTENT_TYPE, LABELS, PROCEDURAL
from classifiers.train import FitJob, LineCache, TrainParams, run_fits

# Documents scored per held-out source: enough for its accuracy, and every
# source weighs about the same in the pooled figures.
EVAL_CAP = 400


@dataclass
class HeldOut:
    """Raw (uncalibrated) predictions of the fold models on their held-out source."""

    y_true: np.ndarray
    proba: np.ndarray
    sources: np.ndarray

    def subset(self, mask: np.ndarray) -> HeldOut:
        return HeldOut(self.y_true[mask], self.proba[mask], self.sources[mask])


def labelled_sources(docs: Sequence[Doc], head: str) -> list[str]:
    return sorted({d.source for d in docs if d.labels[head] is not None})


def predict_held_out(
    docs: Sequence[Doc],
    head: str,
    params: TrainParams,
    cache: LineCache,
    log: Callable[[str], None],
    eval_cap: int = EVAL_CAP,
) -> HeldOut:
    """For every labelled source S: train on the other sources, predict on S."""
    params = params.for_head(head)
    labels = LABELS[head]
    index = {label: i for i, label in enumerate(labels)}
    held_out = labelled_sources(docs, head)
    jobs, y_true, sources = [], [], []
    for source in held_out:
        train = pool(
            [d for d in docs if d.source != source], head, params.cap_per_source, params.seed
        )
        test = [d for d in docs if d.source == source and d.labels[head] is not None]
        test = random.Random(params.seed).sample(test, min(eval_cap, len(test)))
        jobs.append(
            FitJob(
                cache.lines([d for d, _ in train]),
                [label for _, label in train],
                cache.lines(test),
                labels,
            )
        )
        y_true.extend(index[d.labels[head]] for d in test)
        sources.extend([source] * len(test))
    probas = []
    for source, job, proba in zip(held_out, jobs, run_fits(jobs, params), strict=True):
        probas.append(proba)
        log(f"  {head} without {source}: trained on {len(job.lines)}, scored {len(job.score)}")
    return HeldOut(
        np.array(y_true, dtype=np.int64),
        np.vstack(probas) if probas else np.zeros((0, len(labels))),
        np.array(sources),
    )


def guarded_label(head: str) -> int | None:
    """The label whose precision the decision rule protects (content type's procedural)."""
    return LABELS[head].index(PROCEDURAL) if head == CONTENT_TYPE else None


def cross_fitted(held: HeldOut, head: str) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated probabilities and decisions for every held-out source, with the rule
    (temperature, threshold) fitted on the other sources' predictions only."""
    calibrated = np.zeros_like(held.proba)
    decided = np.zeros(len(held.y_true), dtype=np.int64)
    for source in np.unique(held.sources):
        mine = held.sources == source
        others = held.subset(~mine)
        rule = fit_rule(others.proba, others.y_true, guarded_label(head))
        calibrated[mine] = rule.calibrate(held.proba[mine])
        decided[mine] = rule.decide(calibrated[mine])
    return calibrated, decided


def loso_report(held: HeldOut, head: str) -> dict:
    """Pooled metrics over all held-out sources plus each source's accuracy and size."""
    calibrated, decided = cross_fitted(held, head)
    labels = LABELS[head]
    report = evaluate(labels, held.y_true, decided, calibrated)
    per_source = {}
    for source in np.unique(held.sources):
        mine = held.sources == source
        truth = held.y_true[mine]
        per_source[str(source)] = {
            "n": int(mine.sum()),
            "labels": sorted({labels[i] for i in truth}),
            "accuracy": round(float((decided[mine] == truth).mean()), 4),
        }
    report["per_source"] = per_source
    report["mean_source_accuracy"] = round(
        float(np.mean([s["accuracy"] for s in per_source.values()])), 4
    )
    return report


def final_rule(held: HeldOut, head: str) -> Rule:
    """The rule shipped with the model: fitted on every held-out prediction."""
    return fit_rule(held.proba, held.y_true, guarded_label(head))
