"""Tagging documents with both heads: the columns ``procmix prepare`` and ``procmix tag`` add."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from classifiers.model import MODELS_DIR, Head, confusion_path
from classifiers.preprocess import preprocess
from classifiers.taxonomy import CONTENT_TYPE, HEADS, TASK_TYPE, TOP3_TYPE

TOP_K = 3


class Tagger:
    """Both heads loaded from ``models``; ``tag`` turns texts into the tag columns."""

    def __init__(self, models: Path = MODELS_DIR):
        self.models = Path(models)
        self.heads = {name: Head.load(self.models, name) for name in HEADS}

    def tag(self, texts: pa.Array | list[str]) -> dict[str, pa.Array]:
        """content_type, p_procedural, p_factual, p_other, task_type, task_p, task_top3."""
        lines = preprocess(texts)
        content = self.heads[CONTENT_TYPE]
        proba, decided = content.predict(lines)
        columns = {CONTENT_TYPE: _label_array(content.labels, decided)}
        for i, label in enumerate(content.labels):
            columns[f"p_{label}"] = pa.array(proba[:, i], pa.float32())
        task = self.heads[TASK_TYPE]
        task_proba, task_decided = task.predict(lines)
        columns[TASK_TYPE] = _label_array(task.labels, task_decided)
        columns["task_p"] = pa.array(
            np.take_along_axis(task_proba, task_decided[:, None], axis=1)[:, 0], pa.float32()
        )
        columns["task_top3"] = _top_k(task.labels, task_proba, TOP_K)
        return columns

    def summary(self) -> dict:
        """Per head: model file, sha256, version, labels and P(true | predicted)."""
        return models_summary(self.models)


def _label_array(labels: tuple[str, ...], decided: np.ndarray) -> pa.Array:
    return pa.array(labels, pa.string()).take(pa.array(decided))


def _top_k(labels: tuple[str, ...], proba: np.ndarray, k: int) -> pa.Array:
    """The ``k`` most probable labels per row with their probabilities (``TOP3_TYPE``).

    Built from flat arrays (labels, probabilities, fixed offsets) rather than a
    Python dict per row (that loop was a tenth of tagging time).
    """
    top = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    entries = pa.StructArray.from_arrays(
        [
            _label_array(labels, top.ravel()),
            pa.array(np.take_along_axis(proba, top, axis=1).ravel(), pa.float32()),
        ],
        fields=list(TOP3_TYPE.value_type),
    )
    offsets = pa.array(np.arange(0, top.size + 1, top.shape[1], dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, entries, type=TOP3_TYPE)


def models_summary(models: Path = MODELS_DIR) -> dict:
    """What a tagged run records about the models (``summary.json``'s ``classifiers``)."""
    return {name: json.loads(confusion_path(Path(models), name).read_text()) for name in HEADS}


@cache
def shared_tagger(models: str) -> Tagger:
    """One Tagger per process and models folder: ranks of a run reuse it."""
    return Tagger(Path(models))
