"""Training: single models (fastText, or a word table's linear layer), batches of them run in
parallel, and the line cache they share.

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
from collections.abc import Collection, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import fasttext
import numpy as np

from classifiers import static
from classifiers.dataset import Doc, pool
from classifiers.model import PREFIX, FastTextModel, FusedModel, Model
from classifiers.preprocess import preprocess
from classifiers.taxonomy import CONTENT_TYPE, LABELS, TASK_TYPE
from classifiers.word_vectors import VECTORS_FILE, write_vec
from procmix_core.forkserver import worker_context

# What each training worker imports once, in the fork server: fastText, numpy, this module.
TRAIN_PRELOAD = ("classifiers.train",)

# The heads whose input vectors start from the distilled word vectors, when
# they are fastText models. Content type does not: its leave-one-source-out
# procedural precision fell from 0.85 to 0.81 with them (model card, "More
# ideas measured").
WORD_VECTOR_HEADS = (TASK_TYPE,)

# What the task-type head's model is: fastText and a word table's linear layer
# fused (``classifiers.model.FusedModel``), the layer alone
# (``classifiers.static``), or fastText alone as the content head. On
# ../shared/dev (task macro-F1, seed 1): layer 0.568, fused 0.531, fastText
# 0.466; on training sources' unseen documents the layer alone misses whole
# sources (GSM8K's word problems 20% right, fused 90%, fastText 95%):
# docs/experiments/classifiers-round2.md, batches k-n.
TASK_MODELS = ("fused", "static", "fasttext")

# Quantisation per head, where it is not ``TrainParams``' own. The content
# model keeps 300k words and n-grams: on ../shared/dev its cross-fitted
# macro-F1 rose 0.687/0.682/0.691 -> 0.700/0.693/0.699 over seeds 1-3 against
# 100k (batches e and g); at dsub 4 it is 4.2 MiB instead of 5.3 (a tracked
# file stays under 5 MiB) and scored 0.702/0.694 on seeds 1-2, while 250k at
# dsub 2 lost 0.011 (batch l, docs/experiments/classifiers-round2.md).
HEAD_QUANTISATION = {CONTENT_TYPE: {"cutoff": 300_000, "dsub": 4}}

# Heads whose fastText model learns from teachers' soft labels instead of the
# pool's labels (``distilled_labels``), and how many teachers. Content type:
# two teachers, trained on pools drawn with seeds s and s + 1, raised dev
# macro-F1 on all of seeds 1-5 (0.707 -> 0.725 on average); five teachers
# scored the same, one (the model's own labels) +0.004
# (docs/experiments/classifiers-round2.md, batch p).
HEAD_TEACHERS = {CONTENT_TYPE: 2}

# Label tokens per line that carry soft labels: fastText's softmax loss trains
# on one of a line's labels, drawn at random on each visit, so labels repeated
# in proportion to the teachers' probabilities train towards those
# probabilities. 10 and 20 scored the same (batch p).
SOFT_LABEL_TOKENS = 20


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
    # Quantisation keeps the most important words and n-grams only, in
    # sub-vectors of ``dsub`` dimensions (a byte each).
    cutoff: int = 100_000
    dsub: int = 2
    # Starting input vectors (``classifiers.word_vectors``); None: fastText's random start.
    word_vectors: Path | None = VECTORS_FILE
    # The task-type head's model, one of TASK_MODELS.
    task_model: str = "fused"
    # The word table of static and fused models and the L2 penalty of their
    # layer; on dev, 1e-3 beat 1e-4 (0.586 vs 0.560) and 1e-2 (0.391) (batch j).
    table: Path = static.TABLE_FILE
    l2: float = 1e-3
    # A fused model's weight on the layer's log-probabilities: on dev 0.7 gave
    # 0.531, 0.5 0.501, 0.3 0.481 (batch n).
    static_weight: float = 0.7
    # Which model a head trains, set by ``for_head``: one of TASK_MODELS.
    kind: str = "fasttext"
    # fastText models whose mean probabilities become the training labels, set
    # by ``for_head`` (HEAD_TEACHERS); 0: the pool's own labels.
    teachers: int = 0

    def for_head(self, head: str) -> TrainParams:
        """These settings as ``head`` uses them: its kind of model, word vectors only for
        fastText WORD_VECTOR_HEADS, the quantisation of HEAD_QUANTISATION, the teachers
        of HEAD_TEACHERS for a fastText head."""
        kind = self.task_model if head == TASK_TYPE else "fasttext"
        has_fasttext = kind in ("fasttext", "fused")
        vectors = self.word_vectors if head in WORD_VECTOR_HEADS and has_fasttext else None
        return replace(
            self,
            kind=kind,
            word_vectors=vectors,
            teachers=HEAD_TEACHERS.get(head, 0) if kind == "fasttext" else 0,
            **HEAD_QUANTISATION.get(head, {}),
        )

    @property
    def uses_table(self) -> bool:
        return self.kind in ("static", "fused")

    def as_dict(self) -> dict:
        """The settings as recorded in a model's meta file: files by name."""
        settings = asdict(self)
        settings["word_vectors"] = self.word_vectors.name if self.word_vectors else None
        settings["table"] = self.table.name
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

    def examples(self, pairs: Sequence[tuple[Doc, str]]) -> tuple[list[str], list[str]]:
        """A pool's (doc, label) pairs as training lines and their labels."""
        return self.lines([d for d, _ in pairs]), [label for _, label in pairs]


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
                # A label may be several, space-separated (``soft_labels``).
                tokens = " ".join(PREFIX + name for name in label.split(" "))
                f.write(f"{tokens} {line}\n")
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
                dsub=params.dsub,
                thread=1,
                verbose=0,
            )
    return model


def teacher_pools(
    docs: Sequence[Doc], head: str, params: TrainParams, exclude: Collection[Doc] = ()
) -> list[list[tuple[Doc, str]]]:
    """The pools of every teacher but the first (which trains on the model's own pool):
    drawn from ``docs`` with the seeds after ``params.seed``, without ``exclude``."""
    return [
        [
            (d, label)
            for d, label in pool(docs, head, params.cap_per_source, params.seed + i)
            if d not in exclude
        ]
        for i in range(1, params.teachers)
    ]


def soft_labels(
    proba: np.ndarray, labels: Sequence[str], tokens: int = SOFT_LABEL_TOKENS
) -> list[str]:
    """Each row of ``proba`` as ``tokens`` space-separated labels, each repeated in
    proportion to its probability (largest remainder, ties to the earlier label)."""
    scaled = proba * tokens
    counts = np.floor(scaled).astype(np.int64)
    short = tokens - counts.sum(axis=1, keepdims=True)
    rank = np.argsort(np.argsort(counts - scaled, axis=1, kind="stable"), axis=1, kind="stable")
    counts += rank < short
    return [" ".join(np.repeat(labels, row)) for row in counts]


def distilled_labels(
    lines: Sequence[str],
    labels: Sequence[str],
    teachers: Sequence[tuple[Sequence[str], Sequence[str]]],
    params: TrainParams,
    head: str,
) -> list[str]:
    """Soft labels for ``lines``: the mean probabilities of fastText models trained on
    (``lines``, ``labels``) and on each of ``teachers``, teacher i with seed + i."""
    if len(teachers) != params.teachers - 1:
        raise ValueError(f"expected {params.teachers - 1} teacher pools, found {len(teachers)}")
    sets = [(lines, labels), *teachers]
    proba = np.mean(
        [
            FastTextModel(fit(x, y, replace(params, seed=params.seed + i))).probabilities(
                list(lines), LABELS[head]
            )
            for i, (x, y) in enumerate(sets)
        ],
        axis=0,
    )
    return soft_labels(proba, LABELS[head])


def train_model(
    lines: Sequence[str],
    labels: Sequence[str],
    params: TrainParams,
    head: str,
    final: bool,
    teachers: Sequence[tuple[Sequence[str], Sequence[str]]] = (),
) -> Model:
    """A model of ``params.kind`` for ``head`` trained on ``lines``; ``final``: the shipped
    one (fastText's quantised). With ``params.teachers``, fastText learns the soft labels
    of teachers trained on ``lines`` and on ``teachers`` (``distilled_labels``)."""
    if params.uses_table:
        layer = static.fit(
            list(lines), list(labels), LABELS[head], params.l2, static.word_table(params.table)
        )
        if params.kind == "static":
            return layer
    if params.teachers:
        labels = distilled_labels(lines, labels, teachers, params, head)
    words = FastTextModel(fit(lines, labels, params, quantize=final))
    return FusedModel(words, layer, params.static_weight) if params.kind == "fused" else words


@dataclass(frozen=True)
class FitJob:
    """One held-out model to train on ``lines`` (and ``teachers``, see ``train_model``) and
    the lines it scores."""

    head: str
    lines: Sequence[str]
    labels: Sequence[str]
    score: Sequence[str] = ()
    score_labels: tuple[str, ...] = ()
    teachers: tuple[tuple[Sequence[str], Sequence[str]], ...] = ()


def _run(job: FitJob, params: TrainParams) -> np.ndarray:
    model = train_model(job.lines, job.labels, params, job.head, final=False, teachers=job.teachers)
    return model.probabilities(list(job.score), job.score_labels)


def run_fits(jobs: Sequence[FitJob], params: TrainParams) -> Iterator[np.ndarray]:
    """Each job's probabilities on its ``score`` lines, in order; ``params.workers`` at once."""
    if params.workers <= 1 or len(jobs) <= 1:
        yield from (_run(job, params) for job in jobs)
        return
    # The fork server's processes start clean of this process's threads
    # (Arrow's pool) and heap.
    with worker_context(TRAIN_PRELOAD).Pool(min(params.workers, len(jobs))) as workers:
        yield from workers.imap(functools.partial(_run, params=params), jobs)
