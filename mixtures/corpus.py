"""A prepared corpus seen by the mixer: per-document metadata and the bucket table.

Only metadata columns are read here (column projection, no text) unless a
tokenizer is given, in which case text is streamed one batch at a time to
recount tokens and never kept.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from classifiers.taxonomy import CONTENT_LABELS, OTHER, PROCEDURAL
from mixtures import abstain
from mixtures.decont import (
    FLAG_COLUMNS,
    Decontamination,
    DecontError,
    checked_index,
    decontaminate,
)
from mixtures.sampler import base_hashes
from mixtures.spec import Decontaminate
from procmix_core.layout import DOCS_DIR, PARQUET_GLOB, CorpusLayout

if TYPE_CHECKING:
    from tokenizers import Tokenizer

# Documents whose mapped label is null are kept and counted under this label
# (the manifest reports how many), so unlabelled text is never dropped silently.
NULL_LABEL = OTHER
TEXT_BATCH_ROWS = 2048
# Per-document flags of labels.min_confidence while the corpus is read.
ASIDE, NULL_P = "_set_aside", "_null_probability"


def group_name(content_type: str, task_type: str) -> str:
    """The rounding and reporting group of a bucket: its procedural task type
    (``procedural/<task>``), or the factual/other block (``factual+other``)."""
    return f"procedural/{task_type}" if content_type == PROCEDURAL else "factual+other"


class CorpusError(ValueError):
    """The corpus folder cannot serve this spec; the message says what to do."""


@dataclass(frozen=True)
class BucketTable:
    """One row per (source, content type, task type): documents and tokens available."""

    source: list[str]
    content_type: list[str]
    task_type: list[str]
    docs: np.ndarray
    tokens: np.ndarray

    def __len__(self) -> int:
        return len(self.source)

    @property
    def procedural(self) -> np.ndarray:
        return np.array([c == PROCEDURAL for c in self.content_type], dtype=bool)

    @property
    def groups(self) -> list[str]:
        """Each bucket's group (``group_name``)."""
        return [group_name(c, t) for c, t in zip(self.content_type, self.task_type, strict=True)]

    def name(self, i: int) -> str:
        return f"{self.content_type[i]}/{self.task_type[i]}/{self.source[i]}"

    @classmethod
    def from_rows(cls, rows: list[tuple[str, str, str, int, int]]) -> BucketTable:
        """Rows of (source, content_type, task_type, docs, tokens), sorted for a stable order."""
        rows = sorted(rows, key=lambda r: (r[1], r[2], r[0]))
        return cls(
            source=[r[0] for r in rows],
            content_type=[r[1] for r in rows],
            task_type=[r[2] for r in rows],
            docs=np.array([r[3] for r in rows], dtype=np.int64),
            tokens=np.array([r[4] for r in rows], dtype=np.int64),
        )


@dataclass
class Corpus:
    root: Path | str  # the folder as named, or its URL when the files are a local copy
    files: list[Path]
    docs: pa.Table  # file, row, doc_key, n_tokens, est_tokens, bucket (one row per document)
    base_hashes: np.ndarray  # xxh3-64 of each doc_key, in docs order
    buckets: BucketTable
    null_labels: dict[str, int]
    classifiers: dict
    columns: list[str]
    decontamination: Decontamination  # what the spec's decontaminate excluded
    abstained: dict | None  # what labels.min_confidence set aside (abstain.record), or None
    # A remote corpus's local copy of docs/ and summary.json: kept while the Corpus lives.
    copy: tempfile.TemporaryDirectory | None = None

    @cached_property
    def digest(self) -> str:
        """xxh3-128 over the docs files' names and bytes: which corpus a mixture came from
        (xxh3 rather than sha256 because it is read in full for every mixture)."""
        digest = xxhash.xxh3_128()
        for path in self.files:
            digest.update(path.name.encode() + b"\0")
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
        return digest.hexdigest()


def docs_files(root: str | os.PathLike) -> list[Path]:
    files = CorpusLayout(Path(root)).docs_files()
    if not files:
        raise CorpusError(
            f"no {DOCS_DIR}/{PARQUET_GLOB} under {root}: run `procmix prepare` to make a corpus"
        )
    return files


def read_classifiers(root: str | os.PathLike) -> dict:
    """``summary.json``'s ``classifiers`` entry (model, sha256, labels, confusion), or {}."""
    path = CorpusLayout(Path(root)).summary
    if not path.exists():
        return {}
    return json.loads(path.read_text()).get("classifiers") or {}


def _check_columns(files: list[Path], labels: dict[str, str]) -> list[str]:
    columns = pq.read_schema(files[0]).names
    for f in files:
        schema = pq.read_schema(f)
        for role, column in labels.items():
            if column not in schema.names:
                strings = [
                    x.name
                    for x in schema
                    if pa.types.is_string(x.type) or pa.types.is_large_string(x.type)
                ]
                raise CorpusError(
                    f"column {column!r} (labels.{role}) is not in {f}: run prepare with "
                    f"tagging, or map labels to string columns the corpus has: {strings}"
                )
    return columns


def _check_probabilities(files: list[Path]) -> None:
    """Every file has the classifier's probability columns ``min_confidence`` compares."""
    for f in files:
        names = pq.read_schema(f).names
        if abstain.missing_columns(names):
            raise CorpusError(
                f"labels.min_confidence: expected the classifier's columns "
                f"{'/'.join(abstain.PROBABILITY_COLUMNS)} in {f} (prepare writes them "
                f"unless --no-tag), found columns {names}"
            )


def _count_tokens(path: Path, tokenizer) -> pa.Array:
    counts = []
    for batch in pq.ParquetFile(path).iter_batches(batch_size=TEXT_BATCH_ROWS, columns=["text"]):
        encoded = tokenizer.encode_batch(batch.column(0).to_pylist(), add_special_tokens=False)
        counts.append(np.array([len(e.ids) for e in encoded], dtype=np.int64))
    return pa.array(np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64))


def _normalise(column: pa.ChunkedArray, role: str, source_column: str) -> tuple[pa.Array, int]:
    nulls = column.null_count
    filled = pc.fill_null(column.cast(pa.string()), NULL_LABEL)
    if role == "content_type":
        bad = sorted(set(pc.unique(filled).to_pylist()) - set(CONTENT_LABELS))
        if bad:
            raise CorpusError(
                f"column {source_column!r} (labels.content_type) holds {bad}; expected "
                f"{list(CONTENT_LABELS)} or null"
            )
    return filled.combine_chunks(), nulls


def load_tokenizer(path: str | None) -> Tokenizer | None:
    """The Hugging Face tokenizer at ``path`` (a tokenizer.json), or None for the estimate."""
    if path is None:
        return None
    from tokenizers import Tokenizer

    if not Path(path).exists():
        raise CorpusError(f"tokenizer file not found: {path}")
    return Tokenizer.from_file(str(path))


def load_corpus(
    root: str | os.PathLike,
    labels: dict[str, str],
    tokenizer: Tokenizer | None = None,
    decont: Decontaminate | None = None,
    min_confidence: float | None = None,
) -> Corpus:
    """Read the metadata of every document, exclude what ``decont`` flags (see
    ``mixtures.decont.decontaminate``), set aside what ``min_confidence`` does (see
    ``mixtures.abstain``) and group the rest into buckets."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"corpus folder not found: {root}")
    files = docs_files(root)
    if min_confidence is not None:
        _check_probabilities(files)
    columns = _check_columns(files, labels)
    decont_index = checked_index(root)
    flags = FLAG_COLUMNS if decont_index is not None else []
    wanted = ["doc_key", "source", "n_tokens", labels["content_type"], labels["task_type"]]
    # Probabilities are read only to be compared, file by file: two flags stay.
    confidence = list(abstain.PROBABILITY_COLUMNS) if min_confidence is not None else []
    parts = []
    for index, path in enumerate(files):
        missing = sorted(set(flags) - set(pq.read_schema(path).names))
        if missing:
            raise DecontError(
                f"{path} lacks {missing} although {root} carries an index: re-check the "
                "corpus with `procmix decont tag`"
            )
        table = pq.read_table(path, columns=list(dict.fromkeys(wanted + flags + confidence)))
        n = table.num_rows
        tokens = _count_tokens(path, tokenizer) if tokenizer else table["n_tokens"]
        unsure = {}
        if min_confidence is not None:
            aside, null = abstain.set_aside(table, labels["content_type"], min_confidence)
            unsure = {ASIDE: pa.array(aside), NULL_P: pa.array(null)}
        parts.append(
            pa.table(
                {
                    "file": pa.array(np.full(n, index, dtype=np.int32)),
                    "row": pa.array(np.arange(n, dtype=np.int64)),
                    "doc_key": table["doc_key"],
                    "source": table["source"],
                    "content_type": table[labels["content_type"]],
                    "task_type": table[labels["task_type"]],
                    "n_tokens": tokens,
                    "est_tokens": table["n_tokens"],
                    **{name: table[name] for name in flags},
                    **unsure,
                }
            )
        )
    docs = pa.concat_tables(parts)
    if docs.num_rows == 0:
        raise CorpusError(f"corpus has no documents: {root}/{DOCS_DIR}/{PARQUET_GLOB} hold 0 rows")
    # Excluded before anything is counted: flagged documents are never candidates.
    keep, decontamination = decontaminate(root, decont_index, decont, docs)
    docs = docs.filter(pa.array(keep)).drop_columns(flags)
    if docs.num_rows == 0:
        raise CorpusError(f"decontaminate excludes every document of {root}")
    docs, abstained = _abstain(docs, min_confidence)
    if docs.num_rows == 0:
        raise CorpusError(
            f"labels.min_confidence {min_confidence:g} sets aside every document of {root} "
            "that decontamination left"
        )
    null_labels = {}
    for role in ("content_type", "task_type"):
        values, null_labels[role] = _normalise(docs[role], role, labels[role])
        docs = docs.set_column(docs.schema.get_field_index(role), role, values)
    grouped = docs.group_by(["source", "content_type", "task_type"]).aggregate(
        [("n_tokens", "count"), ("n_tokens", "sum")]
    )
    buckets = BucketTable.from_rows(
        list(
            zip(
                grouped["source"].to_pylist(),
                grouped["content_type"].to_pylist(),
                grouped["task_type"].to_pylist(),
                grouped["n_tokens_count"].to_pylist(),
                grouped["n_tokens_sum"].to_pylist(),
                strict=True,
            )
        )
    )
    index = pa.table(
        {
            "source": buckets.source,
            "content_type": buckets.content_type,
            "task_type": buckets.task_type,
            "bucket": pa.array(np.arange(len(buckets), dtype=np.int32)),
        }
    )
    docs = docs.join(index, ["source", "content_type", "task_type"]).sort_by(
        [("file", "ascending"), ("row", "ascending")]
    )
    docs = docs.select(["file", "row", "doc_key", "n_tokens", "est_tokens", "bucket"])
    return Corpus(
        root=root,
        files=files,
        docs=docs,
        base_hashes=base_hashes(docs["doc_key"].to_pylist()),
        buckets=buckets,
        null_labels=null_labels,
        classifiers=read_classifiers(root),
        columns=columns,
        decontamination=decontamination,
        abstained=abstained,
    )


def _abstain(docs: pa.Table, min_confidence: float | None) -> tuple[pa.Table, dict | None]:
    """The candidates left once ``min_confidence`` set documents aside, and the record
    of it (counted by predicted content type, a null label as ``NULL_LABEL``)."""
    if min_confidence is None:
        return docs, None
    aside = docs[ASIDE].to_numpy(zero_copy_only=False)
    null = docs[NULL_P].to_numpy(zero_copy_only=False)
    dropped = docs.filter(pa.array(aside))
    entry = abstain.record(
        min_confidence,
        pc.fill_null(dropped["content_type"].cast(pa.string()), NULL_LABEL),
        dropped["n_tokens"].to_numpy(),
        int(null.sum()),
    )
    return docs.filter(pa.array(~aside)).drop_columns([ASIDE, NULL_P]), entry
