"""A fixed word table with a trained linear layer: the task-type head's model.

A document's features are the sum of its words' vectors in a static word
table, L2-normalised, plus a bias; the head is softmax regression on them
(L-BFGS, an L2 penalty). The table (``classifiers/vectors/wordllama_words.npz``,
built offline by ``make word-table`` from wordllama's token embeddings, the
model2vec recipe) places a word by its meaning in general text, so a task
type learnt from a few sources' words carries to another source's synonyms:
on ../shared/dev this head scores task macro-F1 0.56-0.59 against fastText's
0.46-0.47 (docs/experiments/classifiers-round2.md, batches i-k).

Only the linear layer is trained, so training is seconds and reproducible
byte for byte (a fixed start, one BLAS thread); the saved model is the layer
plus the sha256 of the table it was trained on, which loading checks (JSON: a
few dozen KB).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from classifiers.word_vectors import load
from procmix_core.hashing import file_sha256

TABLE_FILE = Path(__file__).resolve().parent / "vectors" / "wordllama_words.npz"
# L-BFGS iterations: the loss has stopped moving well before (convex, ~130 weights a label).
MAX_ITERATIONS = 500
_FLOOR = 1e-12


@dataclass(frozen=True)
class WordTable:
    """Words and their vectors, with the Arrow array that finds a word's row."""

    words: pa.Array
    vectors: np.ndarray
    sha256: str

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]


@functools.cache
def word_table(path: Path = TABLE_FILE) -> WordTable:
    """The table of ``path``, read once per process."""
    if not path.is_file():
        raise ValueError(f"word table {path} does not exist (make word-table builds it)")
    words, vectors = load(path)
    # float64 once here: the sparse product would convert a float32 table on every
    # batch (most of the layer's time at prepare's batch size), to the same values.
    return WordTable(pa.array(words, pa.string()), vectors.astype(np.float64), file_sha256(path))


def features(table: WordTable, lines: list[str]) -> np.ndarray:
    """(lines x dim + 1): each line's word vectors summed and L2-normalised, then a 1.

    Words the table lacks add nothing; a line with no known word is all zeros
    but the bias, so the head gives it the training prior.
    """
    tokens = pc.split_pattern(pa.array(lines, pa.large_string()), " ")
    rows = pc.index_in(tokens.flatten(), value_set=table.words).to_numpy(zero_copy_only=False)
    known = ~np.isnan(rows) if rows.dtype.kind == "f" else np.ones(len(rows), bool)
    offsets = np.asarray(tokens.offsets)
    # Known words per line, as CSR row pointers: each word is a 1 in its table column.
    counted = np.concatenate([[0], np.cumsum(known)])[offsets]
    counts = sparse.csr_matrix(
        (np.ones(int(known.sum())), rows[known].astype(np.int64), counted),
        shape=(len(lines), len(table.vectors)),
    )
    summed = np.asarray(counts @ table.vectors, dtype=np.float64)
    summed /= np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), _FLOOR)
    return np.hstack([summed, np.ones((len(lines), 1))])


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


@dataclass
class StaticModel:
    """The trained layer over a word table, in a head's label order."""

    table: WordTable
    labels: tuple[str, ...]
    weights: np.ndarray

    def probabilities(self, lines: list[str], labels: tuple[str, ...]) -> np.ndarray:
        """(lines x labels) probabilities in ``labels`` order; labels the model lacks get 0."""
        proba = np.zeros((len(lines), len(labels)))
        if lines:
            mine = softmax(features(self.table, lines) @ self.weights)
            for i, label in enumerate(self.labels):
                proba[:, labels.index(label)] = mine[:, i]
        return proba

    def save(self, path: Path) -> None:
        """The layer, its labels and the table's sha256 as JSON (floats written exactly, so
        the same weights give the same bytes); the table stays apart."""
        layer = {
            "labels": list(self.labels),
            "table_sha256": self.table.sha256,
            "weights": self.weights.tolist(),
        }
        path.write_text(json.dumps(layer) + "\n")

    @classmethod
    def load(cls, path: Path, table_path: Path = TABLE_FILE) -> StaticModel:
        table = word_table(table_path)
        layer = json.loads(path.read_text())
        weights = np.array(layer["weights"], dtype=np.float64)
        labels = tuple(layer["labels"])
        if layer["table_sha256"] != table.sha256:
            raise ValueError(
                f"{path} was trained on a word table with sha256 {layer['table_sha256'][:12]}..., "
                f"but {table_path} has {table.sha256[:12]}...: retrain (make classifiers)"
            )
        if weights.shape != (table.dim + 1, len(labels)):
            raise ValueError(
                f"{path}: expected weights of shape {(table.dim + 1, len(labels))}, "
                f"found {weights.shape}"
            )
        return cls(table, labels, weights)


def fit(
    lines: list[str], labels: list[str], label_order: tuple[str, ...], l2: float, table: WordTable
) -> StaticModel:
    """Softmax regression on ``features`` from a zero start: the same lines give the same
    weights. The labels the lines carry become the model's, in ``label_order``."""
    present = tuple(label for label in label_order if label in set(labels))
    y = np.array([present.index(label) for label in labels])
    x = features(table, lines)
    targets = np.eye(len(present))[y]
    n, d = x.shape

    def loss_and_gradient(flat: np.ndarray) -> tuple[float, np.ndarray]:
        weights = flat.reshape(d, len(present))
        proba = softmax(x @ weights)
        penalty = 0.5 * l2 * np.sum(weights[:-1] ** 2)
        loss = -np.sum(targets * np.log(np.maximum(proba, _FLOOR))) / n + penalty
        gradient = x.T @ (proba - targets) / n
        gradient[:-1] += l2 * weights[:-1]
        return loss, gradient.ravel()

    # One BLAS thread: a multi-threaded sum may round differently run to run.
    with threadpool_limits(1):
        result = minimize(
            loss_and_gradient,
            np.zeros(d * len(present)),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": MAX_ITERATIONS},
        )
    return StaticModel(table, present, result.x.reshape(d, len(present)))
