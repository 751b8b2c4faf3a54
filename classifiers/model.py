"""A trained head: its fastText model, label order and decision rule, loaded from a folder."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import fasttext
import numpy as np

from classifiers.calibration import Rule
from classifiers.taxonomy import LABELS

MODELS_DIR = Path(__file__).resolve().parent / "models"
PREFIX = "__label__"


def model_path(models: Path, head: str) -> Path:
    return models / f"{head}.ftz"


def meta_path(models: Path, head: str) -> Path:
    """Decision rule, version and training parameters of a head."""
    return models / f"{head}.meta.json"


def confusion_path(models: Path, head: str) -> Path:
    """P(true | predicted) on leave-one-source-out predictions: what the run summary carries."""
    return models / f"{head}.confusion.json"


def probabilities(
    model: fasttext.FastText._FastText, lines: list[str], labels: tuple
) -> np.ndarray:
    """(documents x labels) probabilities in ``labels`` order; labels the model lacks get 0."""
    column = {PREFIX + label: i for i, label in enumerate(labels)}
    proba = np.zeros((len(lines), len(labels)), dtype=np.float64)
    if not lines:
        return proba
    # The binding directly (what ``model.predict`` calls): the wrapper's per-line
    # newline check is another pass over the text, and preprocessed lines hold
    # no newline. The newline ends each line as in the training file, so
    # fastText adds the same end-of-line token.
    predicted, probs = model.f.multilinePredict([f"{line}\n" for line in lines], -1, 0.0, "strict")
    # One scatter for the whole batch, not a numpy call per row: fastText lists
    # each row's labels by probability, so every row has its own order.
    counts = np.fromiter(map(len, probs), dtype=np.intp, count=len(probs))
    rows = np.repeat(np.arange(len(lines)), counts)
    columns = np.fromiter(
        map(column.__getitem__, itertools.chain.from_iterable(predicted)),
        dtype=np.intp,
        count=int(counts.sum()),
    )
    proba[rows, columns] = np.concatenate(probs)
    proba /= np.maximum(proba.sum(axis=1, keepdims=True), 1e-12)
    return proba


@dataclass
class Head:
    """One classifier head ready to score preprocessed lines."""

    name: str
    model: fasttext.FastText._FastText
    rule: Rule
    meta: dict

    @property
    def labels(self) -> tuple[str, ...]:
        return LABELS[self.name]

    @classmethod
    def load(cls, models: Path, name: str) -> Head:
        meta = json.loads(meta_path(models, name).read_text())
        # fastText prints a warning on load that is irrelevant to users.
        fasttext.FastText.eprint = lambda *args, **kwargs: None
        model = fasttext.load_model(str(model_path(models, name)))
        return cls(name, model, Rule(**meta["rule"]), meta)

    def predict(self, lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and the decided label index per line."""
        proba = self.rule.calibrate(probabilities(self.model, lines, self.labels))
        return proba, self.rule.decide(proba)
