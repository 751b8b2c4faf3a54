"""A trained head: its model (fastText, a word table's linear layer, or both fused), label
order and decision rule, loaded from a folder."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import fasttext
import numpy as np

from classifiers.calibration import Rule
from classifiers.static import TABLE_FILE, StaticModel, softmax
from classifiers.taxonomy import LABELS

MODELS_DIR = Path(__file__).resolve().parent / "models"
PREFIX = "__label__"


# A model file's suffix by its kind (``TrainParams.kind``); a fused model's layer
# lies beside its fastText file (``layer_path``).
SUFFIXES = {"fasttext": ".ftz", "static": ".layer.json", "fused": ".ftz"}
_FLOOR = 1e-9


def model_path(models: Path, head: str, kind: str | None = None) -> Path:
    """``head``'s model file; without ``kind``, the kind its meta file records."""
    if kind is None:
        kind = _kind(json.loads(meta_path(models, head).read_text()))
    return models / f"{head}{SUFFIXES[kind]}"


def layer_path(model: Path) -> Path:
    """The word-table layer of the fused model whose fastText file is ``model``."""
    return model.with_suffix(SUFFIXES["static"])


def _kind(meta: dict) -> str:
    # Meta files written before static models existed hold fastText models.
    return meta["params"].get("kind", "fasttext")


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


class Model(Protocol):
    """What a head needs of its model, whichever its kind."""

    def probabilities(self, lines: list[str], labels: tuple[str, ...]) -> np.ndarray: ...

    def save(self, path: Path) -> None: ...


@dataclass
class FastTextModel:
    """A fastText model as a ``Model``."""

    model: fasttext.FastText._FastText

    def probabilities(self, lines: list[str], labels: tuple[str, ...]) -> np.ndarray:
        return probabilities(self.model, lines, labels)

    def save(self, path: Path) -> None:
        self.model.save_model(str(path))

    @classmethod
    def load(cls, path: Path) -> FastTextModel:
        # fastText prints a warning on load that is irrelevant to users.
        fasttext.FastText.eprint = lambda *args, **kwargs: None
        return cls(fasttext.load_model(str(path)))


@dataclass
class FusedModel:
    """fastText and a word-table layer, their log-probabilities mixed: ``weight`` on the
    layer. fastText knows the training sources' own words (GSM8K's word problems are
    math), the layer what words mean elsewhere; each covers the other's misses."""

    fasttext: FastTextModel
    layer: StaticModel
    weight: float

    def probabilities(self, lines: list[str], labels: tuple[str, ...]) -> np.ndarray:
        words = np.log(np.maximum(self.layer.probabilities(lines, labels), _FLOOR))
        bag = np.log(np.maximum(self.fasttext.probabilities(lines, labels), _FLOOR))
        return softmax(self.weight * words + (1 - self.weight) * bag)

    def save(self, path: Path) -> None:
        self.fasttext.save(path)
        self.layer.save(layer_path(path))


@dataclass
class Head:
    """One classifier head ready to score preprocessed lines."""

    name: str
    model: Model
    rule: Rule
    meta: dict

    @property
    def labels(self) -> tuple[str, ...]:
        return LABELS[self.name]

    @classmethod
    def load(cls, models: Path, name: str) -> Head:
        meta = json.loads(meta_path(models, name).read_text())
        kind = _kind(meta)
        path = model_path(models, name, kind)
        table = TABLE_FILE.parent / meta["params"]["table"]
        if kind == "static":
            model = StaticModel.load(path, table)
        elif kind == "fused":
            layer = StaticModel.load(layer_path(path), table)
            model = FusedModel(FastTextModel.load(path), layer, meta["params"]["static_weight"])
        else:
            model = FastTextModel.load(path)
        return cls(name, model, Rule(**meta["rule"]), meta)

    def predict(self, lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and the decided label index per line."""
        proba = self.rule.calibrate(self.model.probabilities(lines, self.labels))
        return proba, self.rule.decide(proba)
