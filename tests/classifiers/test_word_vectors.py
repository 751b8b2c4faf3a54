"""Distilled word vectors: the stored file, the cut to dim, training that starts from them."""

from __future__ import annotations

import json
import sys
import zlib
from dataclasses import replace

import numpy as np
import pytest

from classifiers.dataset import read_docs
from classifiers.model import MODELS_DIR, meta_path
from classifiers.preprocess import preprocess
from classifiers.taxonomy import CONTENT_TYPE, TASK_TYPE
from classifiers.train import TrainParams, fit
from classifiers.word_vectors import (
    MEAN_NORM,
    VECTORS_FILE,
    distil,
    load,
    save,
    vocabulary,
    write_vec,
)
from procmix_cli import main
from procmix_core.hashing import file_sha256


def _stand_in_teacher(words: list[str]) -> np.ndarray:
    """A deterministic 24-dimensional embedding from each word's character trigrams."""
    out = np.zeros((len(words), 24), dtype=np.float32)
    for row, word in enumerate(words):
        padded = f"<{word}>"
        for i in range(len(padded) - 2):
            h = zlib.crc32(padded[i : i + 3].encode())
            out[row, h % 24] += 1.0 if h & 1 else -1.0
    return out


@pytest.fixture(scope="module")
def tldr_lines(data_dir) -> list[str]:
    return preprocess([d.text for d in read_docs(data_dir / "tldr.jsonl.gz")][:1500])


def test_distilled_vectors_are_principal_components_of_the_vocabulary(tldr_lines, tmp_path):
    words, vectors = distil(tldr_lines, 6, lambda _: None, encode=_stand_in_teacher)
    assert words == vocabulary(tldr_lines)
    counts = {w: sum(line.split().count(w) for line in tldr_lines) for w in words[:50]}
    assert list(counts.values()) == sorted(counts.values(), reverse=True)
    assert vectors.shape == (len(words), 6)
    assert np.linalg.norm(vectors, axis=1).mean() == pytest.approx(MEAN_NORM)
    variances = vectors.var(axis=0)
    assert np.all(np.diff(variances) <= 1e-9)
    # The same words give the same file, whatever SVD's sign choices.
    path = tmp_path / "v.npz"
    save(path, words, vectors)
    again = tmp_path / "again.npz"
    save(again, *distil(tldr_lines, 6, lambda _: None, encode=_stand_in_teacher))
    assert path.read_bytes() == again.read_bytes()
    loaded_words, loaded = load(path)
    assert loaded_words == words
    np.testing.assert_allclose(loaded, vectors, rtol=1e-3, atol=2e-3)


def test_fasttext_vectors_hold_every_word_cut_to_dim(tldr_lines, tmp_path):
    words, vectors = distil(tldr_lines, 6, lambda _: None, encode=_stand_in_teacher)
    stored = tmp_path / "v.npz"
    save(stored, words, vectors)
    vec = tmp_path / "start.vec"
    assert write_vec(stored, 4, vec) == len(words)
    rows = vec.read_text().splitlines()
    assert rows[0] == f"{len(words)} 4"
    assert [r.split()[0] for r in rows[1:]] == words
    last = rows[-1].split()
    np.testing.assert_allclose([float(x) for x in last[1:]], vectors[-1, :4], atol=2e-3)
    with pytest.raises(ValueError, match="6-dimensional word vectors; a model of dim 8"):
        write_vec(stored, 8, vec)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="is not a word-vectors file"):
        write_vec(broken, 4, vec)


@pytest.mark.slow
def test_task_head_training_starts_from_the_word_vectors(tldr_lines, tmp_path):
    words, vectors = distil(tldr_lines, 8, lambda _: None, encode=_stand_in_teacher)
    stored = tmp_path / "v.npz"
    save(stored, words, vectors)
    labels = ["computing" if i % 2 else "code" for i in range(len(tldr_lines))]
    # A learning rate near zero leaves the starting vectors where they were.
    params = TrainParams(
        dim=8, bucket=200_000, epoch=1, lr=1e-5, word_vectors=stored, task_model="fasttext"
    )
    started = fit(tldr_lines, labels, params.for_head(TASK_TYPE))
    for word in words[:20]:
        np.testing.assert_allclose(
            started.get_word_vector(word), vectors[words.index(word)], atol=2e-3
        )
    # Words only the vectors know join the vocabulary with the teacher's vector.
    only_in_vectors = ["zzzunseen"]
    save(stored, words + only_in_vectors, np.vstack([vectors, np.full((1, 8), 0.5)]))
    extended = fit(tldr_lines, labels, params.for_head(TASK_TYPE))
    assert "zzzunseen" in extended.get_words()
    np.testing.assert_allclose(extended.get_word_vector("zzzunseen"), 0.5, atol=2e-3)
    random_start = fit(tldr_lines, labels, params.for_head(CONTENT_TYPE))
    assert params.for_head(CONTENT_TYPE).word_vectors is None
    assert not np.allclose(random_start.get_word_vector(words[0]), vectors[0], atol=0.1)


def test_shipped_word_vectors_are_the_ones_the_task_head_was_trained_from():
    words, vectors = load(VECTORS_FILE)
    assert len(words) == len(set(words)) > 50_000
    assert vectors.shape[1] >= TrainParams().dim
    assert VECTORS_FILE.stat().st_size <= 5_000_000
    meta = json.loads(meta_path(MODELS_DIR, TASK_TYPE).read_text())
    assert meta["params"]["word_vectors"] == VECTORS_FILE.name
    assert meta["word_vectors_sha256"] == file_sha256(VECTORS_FILE)
    content = json.loads(meta_path(MODELS_DIR, CONTENT_TYPE).read_text())
    assert content["params"]["word_vectors"] is None


def test_distil_word_vectors_without_the_teacher_says_how_to_install_it(
    tmp_path, data_dir, monkeypatch, capsys
):
    # None in sys.modules makes the import fail, whether or not the teacher is installed.
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    out = tmp_path / "v.npz"
    argv = ["distil-word-vectors", "--data", str(data_dir / "tldr.jsonl.gz"), "--out", str(out)]
    assert main(argv) == 2
    assert "make word-vectors" in capsys.readouterr().err
    assert not out.exists()
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"text": "one two three", "source": "tiny"}\n')
    assert main(["distil-word-vectors", "--data", str(empty), "--out", str(out)]) == 2
    assert "no word occurs 3 times" in capsys.readouterr().err
    assert not out.exists()


def test_train_params_record_the_vectors_by_file_name():
    params = TrainParams()
    assert params.as_dict()["word_vectors"] == VECTORS_FILE.name
    assert replace(params, word_vectors=None).as_dict()["word_vectors"] is None


def test_training_verbs_check_the_word_vectors_before_training(tmp_path, data_dir, capsys):
    data = data_dir / "tldr.jsonl.gz"
    missing = tmp_path / "missing.npz"
    argv = ["train-classifiers", "--data", str(data), "--out", str(tmp_path / "models")]
    assert main([*argv, "--word-vectors", str(missing)]) == 2
    assert f"word-vectors file {missing} does not exist" in capsys.readouterr().err
    assert main([*argv, "--dim", "32"]) == 2
    assert "16-dimensional word vectors; a model of dim 32" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()
    loso = ["eval-classifiers", str(data), "--loso", "--task-model", "fasttext"]
    assert main([*loso, "--word-vectors", str(missing)]) == 2
    assert "procmix eval-classifiers: error: word-vectors file" in capsys.readouterr().err
