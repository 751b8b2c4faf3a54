"""Ingest: read and validate each input file, key every good document for dedup.

Two datatrove steps, run once per input file (rank = file index):
``ReadAndValidate`` → ``IngestWriter``. Bad records leave the
stream at the first step, into the quarantine; good ones leave the last step
as on-disk intermediates that the dedup stages read by band.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from itertools import chain
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import xxhash
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from pipeline import schema
from pipeline.atomic import AtomicParquetWriter, atomic_path, write_json
from pipeline.layout import DedupParams, Layout
from pipeline.minhash import minhash_signatures
from pipeline.readers import read_records

# n_tokens is an estimate: ~4 UTF-8 bytes per token, what GPT-2/Llama-style BPE
# vocabularies give on English prose. Mixtures can recount with a real tokenizer.
BYTES_PER_TOKEN = 4
BATCH_DOCS = 2000
BATCH_BYTES = 8 << 20
_SCALARS = (str, int, float, bool)
_BAND_MIX = np.uint64(0x9E3779B97F4A7C15)


def source_name(path: str) -> str:
    """A file's name without folders or format suffixes: the default ``source``."""
    name = os.path.basename(path)
    for suffix in (".gz", ".zst", ".jsonl", ".json", ".ndjson", ".parquet"):
        name = name.removesuffix(suffix)
    return name


def _as_id(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


class ReadAndValidate(PipelineStep):
    """Stream the records of this rank's input files; quarantine the unusable ones.

    Every record becomes either a Document (``id`` = its doc_key) or a row in
    ``quarantine/<rank>.parquet`` with a reason and its raw bytes.
    """

    name = "read + validate"
    type = "📖 - READER"

    def __init__(
        self,
        files: list[str],
        names: list[str],
        out: str,
        text_key: str = "text",
        id_key: str = "id",
        max_chars: int = 5_000_000,
    ):
        super().__init__()
        self.files = files
        self.names = names
        self.out = out
        self.text_key = text_key
        self.id_key = id_key
        self.max_chars = max_chars

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        layout = Layout(Path(self.out))
        reports: list[dict] = []
        with AtomicParquetWriter(
            layout.quarantine_file(rank), schema.QUARANTINE_SCHEMA
        ) as quarantine:
            for index in range(rank, len(self.files), world_size):
                report, records = read_records(
                    self.files[index],
                    self.text_key,
                    self.max_chars,
                    layout.quarantine_files,
                    f"{rank:05d}-{os.path.basename(self.files[index])}.quarantined",
                )
                yield from self._documents(self.names[index], records, quarantine)
                reports.append(vars(report) | {"name": self.names[index]})
        write_json(layout.read_report(rank), reports)

    def _documents(self, name: str, records, quarantine: AtomicParquetWriter) -> Iterator[Document]:
        source = source_name(name)
        text_key, id_key = self.text_key, self.id_key
        rejected: list[dict] = []
        documents = 0
        for record in records:
            key = schema.doc_key(name, record.row)
            if record.reason:
                self.stat_update("quarantined", f"quarantined:{record.reason}")
                fields = record.fields or {}
                rejected.append(
                    {
                        "doc_key": key,
                        "id": _as_id(fields.get(self.id_key)),
                        "source_file": name,
                        "source_row": record.row,
                        "byte_offset": record.byte_offset,
                        "reason": record.reason,
                        "detail": record.detail,
                        "raw": record.raw,
                        "raw_path": record.raw_path,
                    }
                )
                if len(rejected) >= 1000:
                    quarantine.write_rows(rejected)
                    rejected = []
                continue
            # The parsed record is ours: what is left after popping is its extra fields.
            extra = record.fields
            text = extra.pop(text_key)
            user_id = extra.pop(id_key, None)
            record_source = extra.pop("source", None)
            for k in [k for k, v in extra.items() if not isinstance(v, _SCALARS)]:
                del extra[k]
            documents += 1
            yield Document(
                text=text,
                id=key,
                metadata={
                    "id": _as_id(user_id),
                    "source": record_source if isinstance(record_source, str) else source,
                    "source_file": name,
                    "source_row": record.row,
                    "extra": extra,
                },
            )
        quarantine.write_rows(rejected)
        self.stat_update("documents", value=documents)


_KIND_OF_ARROW_TYPE = {
    pa.bool_(): "bool",
    pa.int64(): "int",
    pa.float64(): "float",
    pa.string(): "str",
}


def field_types(records: list[dict]) -> dict[str, set[str]]:
    """The kinds of value (bool, int, float, str) each field takes in ``records``.

    Arrow infers a whole batch at once; only a batch whose fields mix
    incompatible kinds falls back to looking at every value.
    """
    try:
        inferred = pa.array(records).type
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        kinds: dict[str, set[str]] = {}
        for record in records:
            for key, value in record.items():
                kind = type(value).__name__
                if kind == "int" and not -(2**63) <= value < 2**63:
                    kind = "bigint"  # stored as a string: no Arrow integer holds it
                kinds.setdefault(key, set()).add(kind)
        return kinds
    if not pa.types.is_struct(inferred):
        return {}
    # int and float in one field infer as float64: reported as both kinds.
    return {
        field.name: {_KIND_OF_ARROW_TYPE[field.type]}
        for field in inferred
        if field.type in _KIND_OF_ARROW_TYPE
    }


def band_hashes(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit hash per (band, document): a ``(bands, n)`` array."""
    n = len(signatures)
    values = signatures[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    hashes = np.zeros((n, bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(rows):
            hashes = hashes * _BAND_MIX + values[:, :, j]
        hashes ^= hashes >> np.uint64(31)
        hashes *= np.uint64(0xBF58476D1CE4E5B9)
        hashes ^= hashes >> np.uint64(29)
    return np.ascontiguousarray(hashes.T)


class IngestWriter(PipelineStep):
    """Key this rank's good documents for dedup and write them as intermediates.

    Per batch: the exact content hash and MinHash signature of every document
    (vectorised over the batch), then the documents as Parquet, signatures as
    raw uint32 rows and, per band, a raw uint64 column of band hashes, so a
    bucket task reads one band of every rank without touching the others. One
    step writes both so that documents and keys stay aligned by position. Its
    tracked time (datatrove stats) is the key computation alone.
    """

    name = "dedup keys + ingest writer"
    type = "🫂 - DEDUP"

    def __init__(self, out: str, params: DedupParams):
        super().__init__()
        self.out = out
        self.params = params

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        layout = Layout(Path(self.out))
        p = self.params
        raw_targets = [
            layout.signatures(rank),
            *(layout.band_hashes(rank, b) for b in range(p.bands + 1)),
            layout.content_hash_high(rank),
            layout.filled_bins(rank),
            layout.raw_texts(rank),
            layout.raw_text_ends(rank),
        ]
        extra_types: dict[str, set[str]] = {}
        documents = 0
        text_bytes = 0
        with ExitStack() as stack:
            # Exits in reverse: raw files close, then appear (or vanish on error).
            tmp_paths = [stack.enter_context(atomic_path(path)) for path in raw_targets]
            handles = [stack.enter_context(open(t, "wb")) for t in tmp_paths]
            writer = stack.enter_context(
                AtomicParquetWriter(
                    layout.ingest_docs(rank), schema.INGEST_SCHEMA, compression_level=1
                )
            )
            batch: list[Document] = []
            size = 0
            for doc in chain(data, [None]):
                if doc is not None:
                    batch.append(doc)
                    size += len(doc.text)
                if batch and (doc is None or len(batch) >= BATCH_DOCS or size >= BATCH_BYTES):
                    text_bytes += self._write(batch, writer, handles, extra_types, text_bytes)
                    documents += len(batch)
                    yield from batch
                    batch, size = [], 0
        self.stat_update("documents", value=documents)
        write_json(
            layout.ingest_report(rank),
            {
                "documents": documents,
                "text_bytes": text_bytes,
                "extra_types": {k: sorted(v) for k, v in sorted(extra_types.items())},
            },
        )

    def _write(self, batch: list[Document], writer, handles, extra_types, text_start: int) -> int:
        """Write one batch; ``text_start`` is where its texts begin in the rank's raw texts."""
        p = self.params
        texts = pa.array([d.text for d in batch], pa.large_string())
        with self.track_time(unit="batch"):
            signatures, filled = minhash_signatures(texts, p.num_perm, p.seed)
            has_shingles = filled > 0
            # Hash each text's UTF-8 bytes where Arrow already holds them: no copy.
            _, offsets, values = texts.buffers()
            data = memoryview(values or b"")
            ends = np.frombuffer(offsets, dtype=np.int64, count=len(texts) + 1)
            n_bytes = np.diff(ends)
            digests = b"".join(
                xxhash.xxh3_128_digest(data[ends[i] : ends[i + 1]]) for i in range(len(batch))
            )
            halves = np.frombuffer(digests, dtype="<u8").reshape(len(batch), 2)
            low, high = halves[:, 0].copy(), halves[:, 1].copy()
            bands = band_hashes(signatures, p.bands, p.rows)
            # A document with no words must only meet its exact copies: its bands come
            # from its content hash, never from the (constant) empty signature.
            if not has_shingles.all():
                salt = np.arange(1, p.bands + 1, dtype=np.uint64)[:, None] * _BAND_MIX
                with np.errstate(over="ignore"):
                    bands[:, ~has_shingles] = low[~has_shingles][None, :] ^ salt
        handles[0].write(signatures.tobytes())
        for b in range(p.bands):
            handles[1 + b].write(bands[b].tobytes())
        handles[1 + p.bands].write(low.tobytes())
        handles[2 + p.bands].write(high.tobytes())
        handles[3 + p.bands].write(filled.astype(np.uint16).tobytes())
        handles[4 + p.bands].write(data[ends[0] : ends[-1]])
        handles[5 + p.bands].write((ends[1:] - ends[0] + text_start).tobytes())

        extras = [d.metadata["extra"] for d in batch]
        for key, kinds in field_types(extras).items():
            extra_types.setdefault(key, set()).update(kinds)
        metadata = [d.metadata for d in batch]
        columns = {
            "doc_key": [d.id for d in batch],
            "id": [m["id"] for m in metadata],
            "text": texts,
            "source": [m["source"] for m in metadata],
            "source_file": [m["source_file"] for m in metadata],
            "source_row": [m["source_row"] for m in metadata],
            "n_chars": [len(d.text) for d in batch],
            "n_tokens": np.maximum(1, -(-n_bytes // BYTES_PER_TOKEN)),
            "content_hash": [digests[16 * i : 16 * i + 16].hex() for i in range(len(batch))],
            "extra": [orjson.dumps(e).decode() if e else None for e in extras],
        }
        writer.write(pa.table(columns, schema=schema.INGEST_SCHEMA))
        return int(n_bytes.sum())
