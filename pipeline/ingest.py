"""Ingest: read and validate each input file, key every good document for dedup.

Two datatrove steps, run once per input file (rank = file index):
``ReadAndValidate`` → ``IngestWriter``. Bad records leave the
stream at the first step, into the quarantine; good ones leave the last step
as on-disk intermediates that the dedup stages read by band.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import BinaryIO

import numpy as np
import orjson
import pyarrow as pa
import xxhash
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from pipeline import schema
from pipeline.layout import DedupParams, Layout
from pipeline.minhash import minhash_signatures
from procmix_core.atomic import AtomicParquetWriter, atomic_path, write_json
from procmix_core.hashing import GOLDEN_GAMMA, MIX_MULTIPLIER_1
from procmix_core.readers import SOURCE_FIELD, document_source, read_records, source_name
from procmix_core.storage import Location
from procmix_core.tokens import estimated_tokens

BATCH_DOCS = 2000
BATCH_BYTES = 8 << 20
_SCALARS = (str, int, float, bool)


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
        files: list[Location],
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

    def needs(self, rank: int, world_size: int) -> list[str]:
        """Nothing from the run folder: inputs are read where they are."""
        return []

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
                    f"{rank:05d}-{self.files[index].name}.quarantined",
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
            record_source = extra.pop(SOURCE_FIELD, None)
            for k in [k for k, v in extra.items() if not isinstance(v, _SCALARS)]:
                del extra[k]
            documents += 1
            yield Document(
                text=text,
                id=key,
                metadata={
                    "id": _as_id(user_id),
                    "source": document_source(record_source, source),
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
            hashes = hashes * GOLDEN_GAMMA + values[:, :, j]
        hashes ^= hashes >> np.uint64(31)
        hashes *= MIX_MULTIPLIER_1
        hashes ^= hashes >> np.uint64(29)
    return np.ascontiguousarray(hashes.T)


@dataclass
class RawFiles:
    """The raw intermediates one ingest rank writes beside its documents, one per name.

    Each is a file open for writing beside its target (``procmix_core.atomic``):
    it appears when the rank's ``ExitStack`` closes without error, else vanishes.
    """

    signatures: BinaryIO  # MinHash signatures, num_perm uint32 per document
    bands: list[BinaryIO]  # per LSH band, one uint64 hash per document
    content_low: BinaryIO  # the exact band: low half of the 128-bit content hash
    content_high: BinaryIO  # its high half
    filled_bins: BinaryIO  # MinHash bins each document filled itself, uint16
    texts: BinaryIO  # every text's UTF-8 bytes back to back
    text_ends: BinaryIO  # where each text ends in ``texts``, int64

    @classmethod
    def open(cls, stack: ExitStack, layout: Layout, rank: int, params: DedupParams) -> RawFiles:
        def writer(path: Path) -> BinaryIO:
            # Exits in reverse: the file closes, then appears (or vanishes on error).
            return stack.enter_context(open(stack.enter_context(atomic_path(path)), "wb"))

        return cls(
            signatures=writer(layout.signatures(rank)),
            bands=[writer(layout.band_hashes(rank, b)) for b in range(params.bands)],
            content_low=writer(layout.band_hashes(rank, params.exact_band)),
            content_high=writer(layout.content_hash_high(rank)),
            filled_bins=writer(layout.filled_bins(rank)),
            texts=writer(layout.raw_texts(rank)),
            text_ends=writer(layout.raw_text_ends(rank)),
        )


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

    def needs(self, rank: int, world_size: int) -> list[str]:
        return []

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        layout = Layout(Path(self.out))
        extra_types: dict[str, set[str]] = {}
        documents = 0
        text_bytes = 0
        with ExitStack() as stack:
            raw = RawFiles.open(stack, layout, rank, self.params)
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
                    text_bytes += self._write(batch, writer, raw, extra_types, text_bytes)
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

    def _write(
        self, batch: list[Document], writer, raw: RawFiles, extra_types, text_start: int
    ) -> int:
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
                salt = np.arange(1, p.bands + 1, dtype=np.uint64)[:, None] * GOLDEN_GAMMA
                with np.errstate(over="ignore"):
                    bands[:, ~has_shingles] = low[~has_shingles][None, :] ^ salt
        raw.signatures.write(signatures.tobytes())
        for band, f in zip(bands, raw.bands, strict=True):
            f.write(band.tobytes())
        raw.content_low.write(low.tobytes())
        raw.content_high.write(high.tobytes())
        raw.filled_bins.write(filled.astype(np.uint16).tobytes())
        raw.texts.write(data[ends[0] : ends[-1]])
        raw.text_ends.write((ends[1:] - ends[0] + text_start).tobytes())

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
            "n_tokens": estimated_tokens(n_bytes),
            "content_hash": [digests[16 * i : 16 * i + 16].hex() for i in range(len(batch))],
            "extra": [orjson.dumps(e).decode() if e else None for e in extras],
        }
        writer.write(pa.table(columns, schema=schema.INGEST_SCHEMA))
        return int(n_bytes.sum())
