"""Build the benchmark corpus for ``procmix prepare`` from the shared sample data.

The corpus is the shared data, streamed file by file and written to
``<out_dir>/corpus/`` as one ``.jsonl.gz`` per source plus
``planted_near_dups.jsonl.gz`` holding planted near-duplicates;
``<out_dir>/truth.json`` describes every planted pair. (``truth.json`` stays out
of the corpus folder: procmix reads ``.json`` files in an input folder as JSONL.)

- ``scale=k`` writes k copies of every document. Copy 0 is the original; copy
  ``j > 0`` has ``#j`` appended to its id and 30 % of its words replaced, so the
  copies are far below any near-duplicate threshold (true Jaccard about 0.1)
  and the corpus grows without adding duplicates.
- About 3 % of the written documents with at least 50 words get a planted
  variant (id ``<id>~dup<r>``) made with word-edit rate ``r`` drawn from
  :data:`EDIT_RATES`: ``max(1, round(r * words))`` random word substitutions,
  deletions or insertions. Variants go to their own file, so every planted
  pair spans two files.
- ``truth.json`` lists ``{id_a, id_b, edit_rate, jaccard}`` for every planted
  pair, where ``jaccard`` is the exact Jaccard similarity of the word 5-gram
  shingle sets that procmix itself uses (``pipeline.minhash.shingles``).
- ``max_mb`` caps the text read from the shared data (MB = 10**6 bytes of UTF-8
  text, before scaling): each source contributes a prefix of its documents,
  with a budget proportional to its compressed file size.

Everything is a pure function of the input data, ``scale``, ``seed`` and
``max_mb``: the same arguments give the same corpus.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

import orjson

from pipeline.minhash import shingles

EDIT_RATES = (0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2, 0.3)
PLANT_FRACTION = 0.03
PLANT_MIN_WORDS = 50
COPY_REPLACE_RATE = 0.3
PLANTED_FILE = "planted_near_dups.jsonl.gz"
TRUTH_FILE = "truth.json"
CORPUS_DIR = "corpus"
MB = 1_000_000

_WHITESPACE = re.compile(r"(\s+)")
_POOL_SIZE = 1 << 16
_SEED_WORDS = ("the", "of", "and", "to", "in", "is", "that", "for", "with", "as")


class _WordPool:
    """A bounded, seeded reservoir of words seen so far: the source of replacement words."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._words: list[str] = list(_SEED_WORDS)
        self._seen = len(self._words)

    def add(self, words: list[str]) -> None:
        for word in words:
            self._seen += 1
            if len(self._words) < _POOL_SIZE:
                self._words.append(word)
            else:
                slot = self._rng.randrange(self._seen)
                if slot < _POOL_SIZE:
                    self._words[slot] = word

    def draw(self, replaced: list[str], rng: random.Random) -> list[str]:
        """A pool word for each word of ``replaced``, differing from it after case folding."""
        drawn = rng.choices(self._words, k=len(replaced))
        for k, old in enumerate(replaced):
            tries = 0
            while drawn[k].casefold() == old.casefold():
                drawn[k] = rng.choice(self._words) if tries < 8 else old + "q"
                tries += 1
        return drawn


def _pieces(text: str) -> tuple[list[str], list[int]]:
    """Split ``text`` into alternating word/whitespace pieces and the indices of the words."""
    pieces = _WHITESPACE.split(text)
    return pieces, [i for i in range(0, len(pieces), 2) if pieces[i]]


def _replace_words(
    pieces: list[str], words: list[int], rate: float, pool: _WordPool, rng: random.Random
) -> str:
    """Replace ``max(1, round(rate * words))`` random words of split text, keeping the layout."""
    if not words:
        return "".join(pieces)
    pieces = list(pieces)
    chosen = rng.sample(words, max(1, round(rate * len(words))))
    for i, new in zip(chosen, pool.draw([pieces[i] for i in chosen], rng), strict=True):
        pieces[i] = new
    return "".join(pieces)


def _edit_words(text: str, rate: float, pool: _WordPool, rng: random.Random) -> str:
    """Apply ``max(1, round(rate * words))`` random word substitutions, deletions or insertions."""
    pieces, words = _pieces(text)
    chosen = rng.sample(words, max(1, round(rate * len(words))))
    for i, new in zip(chosen, pool.draw([pieces[i] for i in chosen], rng), strict=True):
        operation = rng.randrange(3)
        if operation == 0:
            pieces[i] = new
        elif operation == 1:
            pieces[i] = ""
            if i + 1 < len(pieces):
                pieces[i + 1] = ""
        else:
            pieces[i] = f"{new} {pieces[i]}"
    return "".join(pieces)


def jaccard(text_a: str, text_b: str) -> float:
    """Exact Jaccard similarity of the procmix shingle sets of two texts."""
    a, b = shingles(text_a), shingles(text_b)
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def _read_records(path: Path, budget_bytes: float | None) -> Iterator[dict]:
    """Stream the records of one source file, stopping once ``budget_bytes`` of text were read."""
    read = 0
    with gzip.open(path, "rb") as lines:
        for line in lines:
            if budget_bytes is not None and read >= budget_bytes:
                return
            record = orjson.loads(line)
            read += len(record["text"].encode())
            yield record


def build_corpus(
    data_dir: str | Path,
    out_dir: str | Path,
    scale: int = 1,
    seed: int = 0,
    max_mb: float | None = None,
) -> dict:
    """Write the benchmark corpus and ``truth.json`` into ``out_dir``; return what was written.

    The returned dict has ``out_dir``, ``corpus_dir``, ``truth`` (path of
    ``truth.json``), ``files`` (corpus file names), ``documents``, ``jsonl_mb``
    (uncompressed JSONL written), ``text_mb`` (UTF-8 text written; MB = 10**6
    bytes), ``planted_pairs``, ``scale``, ``seed`` and ``max_mb``.
    """
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    sources = sorted(Path(data_dir).glob("*.jsonl.gz"))
    if not sources:
        raise FileNotFoundError(f"no *.jsonl.gz files in {data_dir}")
    out = Path(out_dir)
    corpus = out / CORPUS_DIR
    corpus.mkdir(parents=True, exist_ok=True)
    total_gz = sum(path.stat().st_size for path in sources)
    pool = _WordPool(random.Random(f"{seed}:pool"))
    truth: list[dict] = []
    files: list[str] = []
    documents = 0
    jsonl_bytes = 0
    text_bytes = 0

    def write(sink: gzip.GzipFile, record: dict) -> None:
        nonlocal documents, jsonl_bytes, text_bytes
        line = orjson.dumps(record) + b"\n"
        sink.write(line)
        documents += 1
        jsonl_bytes += len(line)
        text_bytes += len(record["text"].encode())

    with gzip.GzipFile(corpus / PLANTED_FILE, "wb", compresslevel=1, mtime=0) as planted:
        for source in sources:
            budget = None if max_mb is None else max_mb * MB * source.stat().st_size / total_gz
            files.append(source.name)
            with gzip.GzipFile(corpus / source.name, "wb", compresslevel=1, mtime=0) as sink:
                for record in _read_records(source, budget):
                    text = record["text"]
                    pieces, words = _pieces(text)
                    pool.add([pieces[i] for i in words[:64] if pieces[i].isalpha()])
                    for copy in range(scale):
                        doc = dict(record)
                        if copy:
                            doc["id"] = f"{record['id']}#{copy}"
                            rng = random.Random(f"{seed}:{doc['id']}")
                            doc["text"] = _replace_words(
                                pieces, words, COPY_REPLACE_RATE, pool, rng
                            )
                        write(sink, doc)
                        # Copies keep the word count; the sample depends only on the id.
                        if len(words) < PLANT_MIN_WORDS:
                            continue
                        plant = random.Random(f"{seed}:{doc['id']}:plant")
                        if plant.random() >= PLANT_FRACTION:
                            continue
                        rate = plant.choice(EDIT_RATES)
                        variant = dict(doc, id=f"{doc['id']}~dup{rate}")
                        variant["text"] = _edit_words(doc["text"], rate, pool, plant)
                        write(planted, variant)
                        truth.append(
                            {
                                "id_a": doc["id"],
                                "id_b": variant["id"],
                                "edit_rate": rate,
                                "jaccard": jaccard(doc["text"], variant["text"]),
                            }
                        )
    files.append(PLANTED_FILE)
    (out / TRUTH_FILE).write_text(json.dumps(truth, indent=0) + "\n")
    return {
        "out_dir": str(out),
        "corpus_dir": str(corpus),
        "truth": str(out / TRUTH_FILE),
        "files": files,
        "documents": documents,
        "jsonl_mb": jsonl_bytes / MB,
        "text_mb": text_bytes / MB,
        "planted_pairs": len(truth),
        "scale": scale,
        "seed": seed,
        "max_mb": max_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data", help="folder of *.jsonl.gz inputs")
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument("--scale", type=int, default=1, help="copies of every document")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-mb", type=float, default=None, help="cap on text read, in MB")
    args = parser.parse_args()
    summary = build_corpus(args.data, args.out, args.scale, args.seed, args.max_mb)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
