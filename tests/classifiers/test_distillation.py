"""Content type's fastText model learns teachers' soft labels (``classifiers.train``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from classifiers.dataset import pool, read_docs
from classifiers.model import FastTextModel
from classifiers.taxonomy import CONTENT_LABELS, CONTENT_TYPE, TASK_TYPE
from classifiers.train import (
    SOFT_LABEL_TOKENS,
    LineCache,
    TrainParams,
    distilled_labels,
    fit,
    soft_labels,
    teacher_pools,
    train_model,
)

# Small buckets keep each fit under a second.
SMALL = TrainParams(dim=16, bucket=200_000)


@pytest.fixture(scope="module")
def docs(data_dir):
    names = ("tldr", "wordnet", "gutenberg_literature")
    return [d for name in names for d in read_docs(data_dir / f"{name}.jsonl.gz")]


def test_soft_labels_repeat_each_label_in_proportion_to_its_probability():
    proba = np.random.default_rng(3).dirichlet([0.5, 0.5, 0.5], size=500)
    rows = soft_labels(proba, CONTENT_LABELS)
    counts = np.array([[row.split(" ").count(label) for label in CONTENT_LABELS] for row in rows])
    assert (counts.sum(axis=1) == SOFT_LABEL_TOKENS).all()
    assert np.abs(counts - proba * SOFT_LABEL_TOKENS).max() < 1
    # A sure label is every token; a tie goes to the earlier label.
    assert soft_labels(np.array([[0.0, 1.0, 0.0]]), CONTENT_LABELS, 4) == [
        "factual " * 3 + "factual"
    ]
    assert soft_labels(np.array([[0.5, 0.5, 0.0]]), CONTENT_LABELS, 3) == [
        "procedural procedural factual"
    ]


def test_fasttext_trained_on_soft_labels_predicts_their_proportions(docs):
    # Every line says "procedural" three times in four: a model that read only
    # the first label would predict it with certainty.
    lines = LineCache().lines(docs[::3])
    soft = soft_labels(np.tile([0.75, 0.25, 0.0], (len(lines), 1)), CONTENT_LABELS)
    proba = FastTextModel(fit(lines, soft, SMALL)).probabilities(lines, CONTENT_LABELS)
    assert proba[:, 0].mean() == pytest.approx(0.75, abs=0.08)
    assert proba[:, 2].mean() < 0.05


def test_content_type_learns_from_two_teachers_and_task_type_from_its_pool():
    assert TrainParams().for_head(CONTENT_TYPE).teachers == 2
    for model in ("fused", "static", "fasttext"):
        assert TrainParams(task_model=model).for_head(TASK_TYPE).teachers == 0


def test_teacher_pools_are_drawn_with_the_next_seeds_without_excluded_documents(docs):
    params = replace(SMALL, cap_per_source=200, seed=5, teachers=3)
    held = set(docs[::7])
    pools = teacher_pools(docs, CONTENT_TYPE, params, exclude=held)
    assert len(pools) == 2
    for i, drawn in enumerate(pools, start=1):
        expected = [
            (d, label) for d, label in pool(docs, CONTENT_TYPE, 200, 5 + i) if d not in held
        ]
        assert drawn == expected and not held & {d for d, _ in drawn}
    assert teacher_pools(docs, CONTENT_TYPE, replace(params, teachers=0)) == []


def test_distillation_refuses_a_wrong_number_of_teacher_pools(docs):
    cache = LineCache()
    lines, labels = cache.examples(pool(docs, CONTENT_TYPE, 100, 1))
    with pytest.raises(ValueError, match="expected 1 teacher pools, found 0"):
        distilled_labels(lines, labels, [], replace(SMALL, teachers=2), CONTENT_TYPE)


def test_distilled_model_is_reproducible_and_learns_softer_labels(docs):
    cache = LineCache()
    params = replace(SMALL, cap_per_source=300, teachers=2)
    lines, labels = cache.examples(pool(docs, CONTENT_TYPE, 300, params.seed))
    teachers = [cache.examples(p) for p in teacher_pools(docs, CONTENT_TYPE, params)]
    soft = distilled_labels(lines, labels, teachers, params, CONTENT_TYPE)
    # Some lines the teachers disagree on, or are unsure of, carry more than one label.
    assert sum(len(set(row.split(" "))) > 1 for row in soft) > len(soft) // 20
    scored = cache.lines(docs[1::40])
    runs = [
        train_model(lines, labels, params, CONTENT_TYPE, False, teachers).probabilities(
            scored, CONTENT_LABELS
        )
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0], runs[1])
    hard = train_model(lines, labels, replace(params, teachers=0), CONTENT_TYPE, False)
    assert not np.array_equal(runs[0], hard.probabilities(scored, CONTENT_LABELS))
