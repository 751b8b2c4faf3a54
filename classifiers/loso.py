"""Held-out estimates of a training recipe: leave-one-source-out, the honest estimate on
sources a model never saw, and a held-out share of the pool for sources it did see."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from classifiers.calibration import Predictions, Rule, fit_rule
from classifiers.dataset import Doc, pool
from classifiers.metrics import evaluate
from classifiers.taxonomy import CONTENT_TYPE, LABELS, PROCEDURAL
from classifiers.train import FitJob, LineCache, TrainParams, run_fits, teacher_pools

# Documents scored per held-out source: enough for its accuracy, and every
# source weighs about the same in the pooled figures.
EVAL_CAP = 400


# Share of the pool's documents held out to score the recipe on sources it did see.
IN_DISTRIBUTION_SHARE = 0.1


@dataclass
class HeldOut:
    """Raw (uncalibrated) predictions of models on documents they were not trained on."""

    y_true: np.ndarray
    proba: np.ndarray
    sources: np.ndarray

    def subset(self, mask: np.ndarray) -> HeldOut:
        return HeldOut(self.y_true[mask], self.proba[mask], self.sources[mask])

    def predictions(self) -> Predictions:
        return self.proba, self.y_true


@dataclass
class Estimate:
    """A recipe's held-out predictions in both regimes a corpus to tag mixes."""

    # Each labelled source scored by a model trained without it (leave-one-source-out).
    unseen: HeldOut
    # A random share of the pool scored by a model trained on the rest of it.
    seen: HeldOut


def labelled_sources(docs: Sequence[Doc], head: str) -> list[str]:
    return sorted({d.source for d in docs if d.labels[head] is not None})


def in_distribution_split(
    pairs: Sequence[tuple[Doc, str]], seed: int
) -> tuple[list[tuple[Doc, str]], list[Doc]]:
    """The pool's (doc, label) pairs minus a random 10% of its documents, and that 10%."""
    distinct = list(dict.fromkeys(d for d, _ in pairs))
    held = set(random.Random(seed).sample(distinct, round(len(distinct) * IN_DISTRIBUTION_SHARE)))
    return [(d, label) for d, label in pairs if d not in held], [d for d in distinct if d in held]


def _job(
    head: str,
    train: Sequence[tuple[Doc, str]],
    test: Sequence[Doc],
    cache: LineCache,
    teachers: Sequence[Sequence[tuple[Doc, str]]],
) -> FitJob:
    lines, labels = cache.examples(train)
    return FitJob(
        head,
        lines,
        labels,
        cache.lines(test),
        LABELS[head],
        tuple(cache.examples(pairs) for pairs in teachers),
    )


def _held_out(head: str, tests: Sequence[Sequence[Doc]], probas: Sequence[np.ndarray]) -> HeldOut:
    labels = LABELS[head]
    docs = [d for test in tests for d in test]
    return HeldOut(
        np.array([labels.index(d.labels[head]) for d in docs], dtype=np.int64),
        np.vstack(probas) if docs else np.zeros((0, len(labels))),
        np.array([d.source for d in docs]),
    )


def predict_held_out(
    docs: Sequence[Doc],
    head: str,
    params: TrainParams,
    cache: LineCache,
    log: Callable[[str], None],
    eval_cap: int = EVAL_CAP,
) -> Estimate:
    """For every labelled source S: train on the other sources, predict on S. And once:
    train on 90% of the pool, predict on the other 10%."""
    params = params.for_head(head)
    held_out = labelled_sources(docs, head)
    jobs, tests = [], []
    for source in held_out:
        rest = [d for d in docs if d.source != source]
        train = pool(rest, head, params.cap_per_source, params.seed)
        test = [d for d in docs if d.source == source and d.labels[head] is not None]
        test = random.Random(params.seed).sample(test, min(eval_cap, len(test)))
        jobs.append(_job(head, train, test, cache, teacher_pools(rest, head, params)))
        tests.append(test)
    seen_train, seen_test = in_distribution_split(
        pool(docs, head, params.cap_per_source, params.seed), params.seed
    )
    seen_teachers = teacher_pools(docs, head, params, exclude=set(seen_test))
    jobs.append(_job(head, seen_train, seen_test, cache, seen_teachers))
    names = [f"without {source}" for source in held_out] + ["on 90% of the pool"]
    probas = []
    for name, job, proba in zip(names, jobs, run_fits(jobs, params), strict=True):
        probas.append(proba)
        log(f"  {head} {name}: trained on {len(job.lines)}, scored {len(job.score)}")
    return Estimate(_held_out(head, tests, probas[:-1]), _held_out(head, [seen_test], probas[-1:]))


def guarded_label(head: str) -> int | None:
    """The label whose precision the decision rule protects (content type's procedural)."""
    return LABELS[head].index(PROCEDURAL) if head == CONTENT_TYPE else None


def cross_fitted(estimate: Estimate, head: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per regime, calibrated probabilities and decisions for every document, with the rule
    (temperature, threshold) fitted on the other sources' predictions only."""
    out = {}
    regimes = {"unseen": estimate.unseen, "seen": estimate.seen}
    for name, held in regimes.items():
        out[name] = (np.zeros_like(held.proba), np.zeros(len(held.y_true), dtype=np.int64))
    for source in np.unique(np.concatenate([h.sources for h in regimes.values()])):
        unseen, seen = (h.subset(h.sources != source) for h in regimes.values())
        rule = fit_rule(unseen.predictions(), seen.predictions(), guarded_label(head))
        for name, held in regimes.items():
            mine = held.sources == source
            calibrated, decided = out[name]
            calibrated[mine] = rule.calibrate(held.proba[mine])
            decided[mine] = rule.decide(calibrated[mine])
    return out


def estimate_report(estimate: Estimate, head: str) -> dict[str, dict]:
    """Metrics in both regimes, cross-fitted: ``loso`` pooled over all held-out sources
    plus each source's accuracy and size, ``in_distribution`` on the pool's held-out share."""
    labels = LABELS[head]
    decisions = cross_fitted(estimate, head)
    calibrated, decided = decisions["seen"]
    in_distribution = evaluate(labels, estimate.seen.y_true, decided, calibrated)
    held = estimate.unseen
    calibrated, decided = decisions["unseen"]
    loso = evaluate(labels, held.y_true, decided, calibrated)
    per_source = {}
    for source in np.unique(held.sources):
        mine = held.sources == source
        truth = held.y_true[mine]
        per_source[str(source)] = {
            "n": int(mine.sum()),
            "labels": sorted({labels[i] for i in truth}),
            "accuracy": round(float((decided[mine] == truth).mean()), 4),
        }
    loso["per_source"] = per_source
    loso["mean_source_accuracy"] = round(
        float(np.mean([s["accuracy"] for s in per_source.values()])), 4
    )
    return {"loso": loso, "in_distribution": in_distribution}


def final_rule(estimate: Estimate, head: str) -> Rule:
    """The rule shipped with the model: fitted on every held-out prediction."""
    return fit_rule(estimate.unseen.predictions(), estimate.seen.predictions(), guarded_label(head))
