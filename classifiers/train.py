"""fastText training: single models, batches of them run in parallel, and the line cache they share.

Every model trains on one fastText thread: fastText's threads update the
weights without locks, so a model trained on two threads differs from run to
run. Parallelism comes from training several models at once instead (the
leave-one-source-out folds), which keeps ``make classifiers`` reproducible
byte for byte.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import fasttext
import numpy as np

from classifiers.dataset import Doc
from classifiers.model import PREFIX, probabilities
from classifiers.preprocess import preprocess
from classifiers.taxonomy import CONTENT_TYPE, TASK_TYPE
from classifiers.word_vectors import VECTORS_FILE, write_vec
from procmix_core.forkserver import worker_context

# What each training worker imports once, in the fork server: fastText, numpy, this module.
TRAIN_PRELOAD = ("classifiers.train",)

# The heads whose input vectors start from the distilled word vectors. Content
# type does not: its leave-one-source-out procedural precision fell from 0.85
# to 0.81 with them (model card, "More ideas measured").
WORD_VECTOR_HEADS = (TASK_TYPE,)

# Quantisation cutoff (words and n-grams kept) per head, where it is not
# ``TrainParams.cutoff``. The content model keeps 300k: on ../shared/dev its
# cross-fitted macro-F1 rose 0.687/0.682/0.691 -> 0.700/0.693/0.699 over seeds
# 1-3 and procedural precision by 0.01-0.02, for 5.6 MB instead of 2.1 (keeping
# all, 10.3 MB, is over the size limit); the task model lost 0.014 with it on
# seed 1 (docs/experiments/classifiers-round2.md, batches e and g).
HEAD_CUTOFFS = {CONTENT_TYPE: 300_000}


@dataclass(frozen=True)
class TrainParams:
    """fastText supervised settings plus the pool's per-source cap."""

    cap_per_source: int = 1000
    epoch: int = 5
    lr: float = 0.5
    dim: int = 16
    word_ngrams: int = 2
    min_count: int = 2
    bucket: int = 1_000_000
    workers: int = 2
    seed: int = 1
    # Quantisation keeps the most important words and n-grams only.
    cutoff: int = 100_000
    # Starting input vectors (``classifiers.word_vectors``); None: fastText's random start.
    word_vectors: Path | None = VECTORS_FILE

    def for_head(self, head: str) -> TrainParams:
        """These settings as ``head`` uses them: word vectors only for WORD_VECTOR_HEADS,
        the cutoff of HEAD_CUTOFFS."""
        params = self if head in WORD_VECTOR_HEADS else replace(self, word_vectors=None)
        return replace(params, cutoff=HEAD_CUTOFFS.get(head, params.cutoff))

    def as_dict(self) -> dict:
        """The settings as recorded in a model's meta file: the vectors by file name."""
        settings = asdict(self)
        settings["word_vectors"] = self.word_vectors.name if self.word_vectors else None
        return settings


class LineCache:
    """Preprocessed lines per document, computed once per training run."""

    def __init__(self) -> None:
        self._lines: dict[int, str] = {}

    def lines(self, docs: Sequence[Doc]) -> list[str]:
        missing = [d for d in dict.fromkeys(docs) if id(d) not in self._lines]
        for doc, line in zip(missing, preprocess([d.text for d in missing]), strict=True):
            self._lines[id(doc)] = line
        return [self._lines[id(d)] for d in docs]


# fasttext-numpy2-wheel allocates its matrices without zeroing them, and
# fastText's random initialisation fills only ``thread`` tenths of the input
# matrix, counting on the rest being zero (upstream's std::vector zeroes it);
# some smaller buffers are read before they are written as well. glibc serves
# a block from freed heap memory once it has raised its mmap threshold (it
# does after a large block is freed, e.g. a previous training's matrix), and
# small blocks always: the model then starts from leftover bytes, differs from
# run to run and often stops with "Encountered NaN" (a training in a process
# that had loaded other models did, one run in three). Pinning the threshold
# at glibc's default keeps every block over 128 KB a fresh, zero-filled
# mapping; M_PERTURB with 0xFF makes glibc fill every other block it hands out
# with 0x00 (the complement of the byte it fills freed blocks with).
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 128 * 1024
_M_PERTURB = -6
_ZERO_ON_ALLOCATE = 0xFF


@functools.cache
def _zero_filled_allocations() -> None:
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name) if libc_name else None
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
        libc.mallopt(_M_PERTURB, _ZERO_ON_ALLOCATE)


def _supervised(
    path: Path, params: TrainParams, vectors: Path | None
) -> fasttext.FastText._FastText:
    _zero_filled_allocations()
    try:
        return fasttext.train_supervised(
            input=str(path),
            epoch=params.epoch,
            lr=params.lr,
            dim=params.dim,
            wordNgrams=params.word_ngrams,
            minCount=params.min_count,
            bucket=params.bucket,
            thread=1,
            seed=params.seed,
            verbose=0,
            pretrainedVectors=str(vectors or ""),
        )
    except RuntimeError as e:
        if "NaN" not in str(e):
            raise
        raise RuntimeError(
            f"fastText training diverged (NaN) with learning rate {params.lr}; "
            "retry with a lower --lr"
        ) from e


def fit(
    lines: Sequence[str], labels: Sequence[str], params: TrainParams, quantize: bool = False
) -> fasttext.FastText._FastText:
    """A fastText model trained on ``lines`` (quantised to a small ``.ftz`` when asked)."""
    with tempfile.TemporaryDirectory(prefix="procmix-train-") as tmp:
        path = Path(tmp) / "train.txt"
        with path.open("w", encoding="utf-8") as f:
            for line, label in zip(lines, labels, strict=True):
                f.write(f"{PREFIX}{label} {line}\n")
        vectors = None
        if params.word_vectors is not None:
            vectors = Path(tmp) / "start.vec"
            write_vec(params.word_vectors, params.dim, vectors)
        model = _supervised(path, params, vectors)
        if quantize:
            model.quantize(
                input=str(path),
                qnorm=True,
                retrain=True,
                cutoff=params.cutoff,
                thread=1,
                verbose=0,
            )
    return model


@dataclass(frozen=True)
class FitJob:
    """One model to train, and what to do with it: score lines, save it quantised, or both."""

    lines: Sequence[str]
    labels: Sequence[str]
    score: Sequence[str] = ()
    score_labels: tuple[str, ...] = ()
    save_to: Path | None = None


def _run(job: FitJob, params: TrainParams) -> np.ndarray:
    model = fit(job.lines, job.labels, params, quantize=job.save_to is not None)
    if job.save_to is not None:
        model.save_model(str(job.save_to))
    return probabilities(model, list(job.score), job.score_labels)


def run_fits(jobs: Sequence[FitJob], params: TrainParams) -> Iterator[np.ndarray]:
    """Each job's probabilities on its ``score`` lines, in order; ``params.workers`` at once."""
    if params.workers <= 1 or len(jobs) <= 1:
        yield from (_run(job, params) for job in jobs)
        return
    # The fork server's processes start clean of this process's threads
    # (Arrow's pool) and heap.
    with worker_context(TRAIN_PRELOAD).Pool(min(params.workers, len(jobs))) as workers:
        yield from workers.imap(functools.partial(_run, params=params), jobs)
