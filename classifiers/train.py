"""fastText training for one head, and the preprocessed-line cache training runs share."""

from __future__ import annotations

import ctypes
import ctypes.util
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import fasttext

from classifiers.dataset import Doc
from classifiers.model import PREFIX
from classifiers.preprocess import preprocess


@dataclass(frozen=True)
class TrainParams:
    """fastText supervised settings plus the pool's per-source cap."""

    cap_per_source: int = 400
    epoch: int = 5
    lr: float = 0.5
    dim: int = 16
    word_ngrams: int = 2
    min_count: int = 2
    bucket: int = 1_000_000
    threads: int = 2
    seed: int = 1
    # Quantisation keeps the most important words and n-grams only.
    cutoff: int = 100_000

    def as_dict(self) -> dict:
        return asdict(self)


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
# matrix, counting on the rest being zero (upstream's std::vector zeroes it).
# glibc serves a block from freed heap memory once it has raised its mmap
# threshold (it does after a large block is freed, e.g. a previous training's
# matrix): the model then starts from leftover bytes, differs from run to run
# and often stops with "Encountered NaN". Pinning the threshold at glibc's
# default keeps every block over 128 KB a fresh, zero-filled mapping: every
# input matrix with bucket × dim ≥ 32,768.
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 128 * 1024


def _zero_filled_large_allocations() -> None:
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name) if libc_name else None
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)


def _supervised(path: Path, params: TrainParams) -> fasttext.FastText._FastText:
    _zero_filled_large_allocations()
    try:
        return fasttext.train_supervised(
            input=str(path),
            epoch=params.epoch,
            lr=params.lr,
            dim=params.dim,
            wordNgrams=params.word_ngrams,
            minCount=params.min_count,
            bucket=params.bucket,
            thread=params.threads,
            seed=params.seed,
            verbose=0,
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
        model = _supervised(path, params)
        if quantize:
            model.quantize(
                input=str(path),
                qnorm=True,
                retrain=True,
                cutoff=params.cutoff,
                thread=params.threads,
                verbose=0,
            )
    return model
