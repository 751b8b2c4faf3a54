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
        names = np.array(task.labels)
        columns[TASK_TYPE] = _label_array(task.labels, task_decided)
        rows = np.arange(len(lines))
        columns["task_p"] = pa.array(task_proba[rows, task_decided], pa.float32())
        top = np.argsort(-task_proba, axis=1, kind="stable")[:, :TOP_K]
        columns["task_top3"] = pa.array(
            [[{"label": names[j], "p": float(task_proba[r, j])} for j in top[r]] for r in rows],
            TOP3_TYPE,
        )
        return columns

    def summary(self) -> dict:
        """Per head: model file, sha256, version, labels and P(true | predicted)."""
        return models_summary(self.models)


def _label_array(labels: tuple[str, ...], decided: np.ndarray) -> pa.Array:
    return pa.array(np.array(labels)[decided].tolist(), pa.string())


def models_summary(models: Path = MODELS_DIR) -> dict:
    """What a tagged run records about the models (``summary.json``'s ``classifiers``)."""
    return {name: json.loads(confusion_path(Path(models), name).read_text()) for name in HEADS}


@cache
def shared_tagger(models: str) -> Tagger:
    """One Tagger per process and models folder: ranks of a run reuse it."""
    return Tagger(Path(models))
