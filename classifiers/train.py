"""fastText training for one head, and the preprocessed-line cache training runs share."""

from __future__ import annotations

import multiprocessing
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


# fastText sometimes stops with "Encountered NaN" on a training file that
# trains cleanly in a fresh process (seen here on small files, mostly with 2
# threads, after earlier trainings in the same process). A retry therefore runs
# in a new process, on one thread, with another seed.
NAN_RETRIES = 3


def _supervised(path: str, params: TrainParams, threads: int, seed: int):
    return fasttext.train_supervised(
        input=path,
        epoch=params.epoch,
        lr=params.lr,
        dim=params.dim,
        wordNgrams=params.word_ngrams,
        minCount=params.min_count,
        bucket=params.bucket,
        thread=threads,
        seed=seed,
        verbose=0,
    )


def _supervised_to_file(path: str, params: TrainParams, seed: int, out: str) -> None:
    _supervised(path, params, 1, seed).save_model(out)


def _train_supervised(path: Path, params: TrainParams) -> fasttext.FastText._FastText:
    try:
        return _supervised(str(path), params, params.threads, params.seed)
    except RuntimeError as e:
        if "NaN" not in str(e):
            raise
    out = path.with_suffix(".bin")
    context = multiprocessing.get_context("spawn")
    for attempt in range(1, NAN_RETRIES + 1):
        try:
            with context.Pool(1) as fresh:
                fresh.apply(
                    _supervised_to_file, (str(path), params, params.seed + attempt, str(out))
                )
            break
        except RuntimeError as e:
            if "NaN" not in str(e) or attempt == NAN_RETRIES:
                raise
    return fasttext.load_model(str(out))


def fit(
    lines: Sequence[str], labels: Sequence[str], params: TrainParams, quantize: bool = False
) -> fasttext.FastText._FastText:
    """A fastText model trained on ``lines`` (quantised to a small ``.ftz`` when asked)."""
    with tempfile.TemporaryDirectory(prefix="procmix-train-") as tmp:
        path = Path(tmp) / "train.txt"
        with path.open("w", encoding="utf-8") as f:
            for line, label in zip(lines, labels, strict=True):
                f.write(f"{PREFIX}{label} {line}\n")
        model = _train_supervised(path, params)
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
