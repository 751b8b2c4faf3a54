"""The word-table task model: features, the trained layer, its file, the fusion with fastText,
the shipped table."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from classifiers import static
from classifiers.dataset import read_docs
from classifiers.model import MODELS_DIR, FusedModel, Head, layer_path, meta_path, model_path
from classifiers.preprocess import preprocess
from classifiers.taxonomy import CONTENT_TYPE, TASK_LABELS, TASK_TYPE
from classifiers.train import TrainParams, train_model
from classifiers.word_vectors import load, save
from procmix_core.hashing import file_sha256

# Three sources whose documents are one task type each.
SOURCES = {"tldr": "computing", "gsm8k": "math", "medquad": "health"}
PER_SOURCE = 300


@pytest.fixture(scope="module")
def labelled_lines(data_dir) -> tuple[list[str], list[str]]:
    lines, labels = [], []
    for source, task in SOURCES.items():
        docs = list(read_docs(data_dir / f"{source}.jsonl.gz"))[:PER_SOURCE]
        assert {d.labels[TASK_TYPE] for d in docs} == {task}
        lines += preprocess([d.text for d in docs])
        labels += [task] * len(docs)
    return lines, labels


def _table(tmp_path: Path, words: list[str], vectors: np.ndarray) -> static.WordTable:
    path = tmp_path / "table.npz"
    save(path, words, vectors, int8=True)
    return static.word_table(path)


def test_features_are_the_normalised_sum_of_known_words(tmp_path):
    words = ["stir", "boil", "the"]
    vectors = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0], [0.5, 0.5, 0.5]])
    table = _table(tmp_path, words, vectors)
    x = static.features(table, ["stir boil stir unknownword", "zzz qqq", ""])
    expected = 2 * table.vectors[0] + table.vectors[1]
    np.testing.assert_allclose(x[0, :3], expected / np.linalg.norm(expected), rtol=1e-6)
    # No known word: no direction, only the bias.
    np.testing.assert_array_equal(x[1:, :3], 0.0)
    np.testing.assert_array_equal(x[:, 3], 1.0)
    assert static.features(table, []).shape == (0, 4)


def test_int8_tables_keep_each_vector_within_half_a_step(tmp_path):
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(200, 16)) * rng.uniform(0.1, 5, size=(200, 1))
    words = [f"w{i}" for i in range(200)]
    path = tmp_path / "t.npz"
    save(path, words, vectors, int8=True)
    loaded_words, loaded = load(path)
    assert loaded_words == words
    step = np.abs(vectors).max(axis=1, keepdims=True) / 127
    assert np.all(np.abs(loaded - vectors) <= step / 2 + 1e-6)


def test_layer_learns_task_types_of_real_documents_and_reproduces(labelled_lines, tmp_path):
    lines, labels = labelled_lines
    train = [i for i in range(len(lines)) if i % 3]
    test = [i for i in range(len(lines)) if i % 3 == 0]
    table = static.word_table(static.TABLE_FILE)

    def trained():
        return static.fit(
            [lines[i] for i in train], [labels[i] for i in train], TASK_LABELS, 1e-3, table
        )

    model = trained()
    assert model.labels == tuple(t for t in TASK_LABELS if t in SOURCES.values())
    proba = model.probabilities([lines[i] for i in test], TASK_LABELS)
    assert proba.shape == (len(test), len(TASK_LABELS))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    predicted = [TASK_LABELS[j] for j in proba.argmax(axis=1)]
    accuracy = np.mean([p == labels[i] for p, i in zip(predicted, test, strict=True)])
    assert accuracy > 0.95
    # Same lines, same bytes; the file loads back to the same probabilities.
    first, second = tmp_path / "a.layer.json", tmp_path / "b.layer.json"
    model.save(first)
    trained().save(second)
    assert first.read_bytes() == second.read_bytes()
    again = static.StaticModel.load(first)
    np.testing.assert_array_equal(
        again.probabilities(lines[:50], TASK_LABELS), model.probabilities(lines[:50], TASK_LABELS)
    )


def test_a_layer_refuses_a_table_it_was_not_trained_on(labelled_lines, tmp_path):
    lines, labels = labelled_lines
    model = static.fit(lines, labels, TASK_LABELS, 1e-3, static.word_table(static.TABLE_FILE))
    path = tmp_path / "task_type.layer.json"
    model.save(path)
    other = tmp_path / "other.npz"
    save(other, ["a", "b"], np.eye(2, 128), int8=True)
    with pytest.raises(ValueError, match="was trained on a word table with sha256"):
        static.StaticModel.load(path, other)
    with pytest.raises(ValueError, match="does not exist .make word-table builds it."):
        static.word_table(tmp_path / "missing.npz")


def test_params_choose_the_model_per_head():
    params = TrainParams()
    task = params.for_head(TASK_TYPE)
    assert (task.kind, task.word_vectors, task.uses_table) == ("fused", params.word_vectors, True)
    alone = replace(params, task_model="static").for_head(TASK_TYPE)
    assert (alone.kind, alone.word_vectors) == ("static", None)
    content = params.for_head(CONTENT_TYPE)
    assert (content.kind, content.word_vectors, content.uses_table) == ("fasttext", None, False)


@pytest.mark.slow
def test_fused_model_mixes_both_log_probabilities(labelled_lines, tmp_path):
    lines, labels = labelled_lines
    params = replace(TrainParams(bucket=200_000, epoch=2), word_vectors=None).for_head(TASK_TYPE)
    model = train_model(lines, labels, params, TASK_TYPE, final=False)
    assert isinstance(model, FusedModel) and model.weight == params.static_weight
    probe = lines[::7]
    words = np.log(np.maximum(model.layer.probabilities(probe, TASK_LABELS), 1e-9))
    bag = np.log(np.maximum(model.fasttext.probabilities(probe, TASK_LABELS), 1e-9))
    np.testing.assert_allclose(
        model.probabilities(probe, TASK_LABELS),
        static.softmax(model.weight * words + (1 - model.weight) * bag),
    )
    path = tmp_path / "task_type.ftz"
    model.save(path)
    assert path.is_file() and layer_path(path).is_file()
    again = static.StaticModel.load(layer_path(path))
    np.testing.assert_array_equal(again.weights, model.layer.weights)


def test_shipped_task_head_fuses_fasttext_with_the_committed_table():
    meta = json.loads(meta_path(MODELS_DIR, TASK_TYPE).read_text())
    assert meta["params"]["kind"] == "fused"
    assert meta["params"]["table"] == static.TABLE_FILE.name
    assert meta["table_sha256"] == file_sha256(static.TABLE_FILE)
    path = model_path(MODELS_DIR, TASK_TYPE)
    assert path.name == "task_type.ftz" and layer_path(path).is_file()
    words, vectors = load(static.TABLE_FILE)
    assert len(words) == len(set(words)) == len(vectors) >= 30_000
    head = Head.load(MODELS_DIR, TASK_TYPE)
    assert isinstance(head.model, FusedModel)
    # Every shipped file stays under the repository's 5 MiB per tracked file.
    for path in [*MODELS_DIR.iterdir(), *static.TABLE_FILE.parent.iterdir()]:
        assert path.stat().st_size <= 5 * 2**20, path
