"""Labelled documents in the shared JSONL schema, and source-balanced training pools."""

from __future__ import annotations

import random
import sys
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from classifiers.taxonomy import CONTENT_TYPE, HEADS, LABEL_FIELDS, LABELS, TASK_TYPE
from procmix_core.readers import (
    INPUT_SUFFIXES,
    SOURCE_FIELD,
    document_source,
    read_records,
    source_name,
)


# eq=False: documents are compared and hashed by identity (caches key on them).
@dataclass(frozen=True, eq=False)
class Doc:
    """One document and its labels (None where the source does not settle one)."""

    text: str
    source: str
    labels: dict[str, str | None]


def labelled_files(data: Path) -> list[Path]:
    """Input files under ``data`` (a file or a folder), sorted."""
    if data.is_file():
        return [data]
    return sorted(p for p in data.rglob("*") if p.is_file() and p.name.endswith(INPUT_SUFFIXES))


def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def read_docs(data: Path, log: Callable[[str], None] = _warn) -> Iterator[Doc]:
    """Every usable document under ``data``; labels outside the taxonomy become None.

    Files are read as ``prepare`` reads them (``procmix_core.readers``): a record
    prepare would quarantine is skipped here, and ``log`` says how many per file
    and why. A document's source is its ``source`` field, else its file's name.
    """
    for path in labelled_files(data):
        skipped: Counter[str] = Counter()
        _, records = read_records(path)
        file_source = source_name(str(path))
        for record in records:
            if record.reason:
                skipped[record.reason] += 1
                continue
            fields = record.fields
            labels = {}
            for head in HEADS:
                value = fields.get(LABEL_FIELDS[head])
                labels[head] = value if value in LABELS[head] else None
            source = document_source(fields.get(SOURCE_FIELD), file_source)
            yield Doc(fields["text"], source, labels)
        if skipped:
            reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(skipped.items()))
            log(f"{path}: skipped {skipped.total()} unusable records ({reasons})")


# A small source is repeated at most this many times to fill its share, so
# that a few documents are not learnt by heart.
MAX_REPEAT = 4


# Sources that weigh as several: their documents are dealt, by a hash of the
# text, into this many parts, each balanced (and capped) as a source of its own.
# Web pages are the register users tag and the one source that shows opinion,
# promotion, reviews and personal pages; at 4 shares dev content macro-F1 rose
# 0.685 -> 0.710 and its web part 0.63 -> 0.74 (docs/experiments/classifiers-round2.md).
SOURCE_SHARES = {"web_crawl": 4}


def balancing_source(doc: Doc) -> str:
    """The source a document counts under in the pool: ``SOURCE_SHARES`` split into parts."""
    shares = SOURCE_SHARES.get(doc.source, 1)
    if shares == 1:
        return doc.source
    return f"{doc.source}#{zlib.crc32(doc.text.encode()) % shares}"


def stratum(doc: Doc, head: str) -> str:
    """The level between class and source in the balancing tree.

    For content type it is the task type: every topic then weighs the same
    inside each content class, so topic words (code, recipes, anatomy) stop
    predicting the content type, which is the source-style trap. Task type
    balances over sources directly.
    """
    return (doc.labels[TASK_TYPE] or "-") if head == CONTENT_TYPE else ""


def pool(docs: Iterable[Doc], head: str, cap_per_source: int, seed: int) -> list[tuple[Doc, str]]:
    """(doc, label) pairs for ``head``, balanced by class, then stratum, then source.

    Each source (a part of one, see ``SOURCE_SHARES``) offers at most
    ``cap_per_source`` documents, split evenly
    across the labels it has. Every class gets the same number of training
    lines; inside a class every stratum (see ``stratum``) the same share, and
    inside a stratum every source the same share, drawn with repetition (at
    most ``MAX_REPEAT`` times) when a source is small. Shuffled with ``seed``.
    """
    rng = random.Random(seed)
    tree: dict[str, dict[str, dict[str, list[Doc]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for doc in docs:
        label = doc.labels[head]
        if label is not None:
            tree[label][stratum(doc, head)][balancing_source(doc)].append(doc)
    labels_of: dict[str, int] = defaultdict(int)
    for strata in tree.values():
        for sources in strata.values():
            for source in sources:
                labels_of[source] += 1
    offered = 0
    for strata in tree.values():
        for sources in strata.values():
            for source, members in sources.items():
                share = max(1, cap_per_source // labels_of[source])
                sources[source] = rng.sample(members, min(share, len(members)))
                offered += len(sources[source])
    if not tree:
        return []
    per_class = offered / len(tree)
    chosen: list[tuple[Doc, str]] = []
    for label in sorted(tree):
        strata = tree[label]
        per_stratum = per_class / len(strata)
        for name in sorted(strata):
            sources = strata[name]
            per_source = round(per_stratum / len(sources))
            for source in sorted(sources):
                members = sources[source]
                want = min(per_source, MAX_REPEAT * len(members))
                picked = rng.sample(members, min(want, len(members)))
                picked += rng.choices(members, k=want - len(picked))
                chosen.extend((doc, label) for doc in picked)
    rng.shuffle(chosen)
    return chosen
