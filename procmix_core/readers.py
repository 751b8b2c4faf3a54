"""Streaming readers: every input record comes out once, usable or with the reason it is not.

The one reader of input documents: ``prepare`` ingests with it, and the
classifiers read labelled JSONL (``classifiers.dataset``) and tag JSONL
(``procmix tag``) with it, so a line one of them quarantines the others skip
for the same reason, and every document gets its ``source`` by one rule
(``document_source``).

Formats are recognised by their first bytes, not by the file name, so a
``.jsonl.gz`` that is really plain JSONL (or the reverse) is still read. A
compressed stream that breaks part way keeps every line decoded before the
break and reports the rest as one record carrying the compressed byte offset.
"""

from __future__ import annotations

import os
import shutil
import zlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from procmix_core import reasons
from procmix_core.storage import Location

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
PARQUET_MAGIC = b"PAR1"
UTF8_BOM = b"\xef\xbb\xbf"
CHUNK_BYTES = 1 << 20
FEED_BYTES = 16 << 10
PARQUET_BATCH_ROWS = 1024
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".json.gz", ".json.zst", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)
INPUT_SUFFIXES = JSONL_SUFFIXES + PARQUET_SUFFIXES
# Format suffixes a file's name loses to become its default source.
_NAME_SUFFIXES = (".gz", ".zst", ".jsonl", ".json", ".ndjson", ".parquet")
DEFAULT_MAX_CHARS = 5_000_000
SOURCE_FIELD = "source"
# An input field named like one of procmix's own columns is kept under this prefix.
INPUT_PREFIX = "input_"


def source_name(path: str) -> str:
    """A file's name without folders or format suffixes: the default ``source``."""
    name = os.path.basename(path)
    for suffix in _NAME_SUFFIXES:
        name = name.removesuffix(suffix)
    return name


def input_field_name(key: str, reserved: Collection[str]) -> str:
    """The name an input field keeps in an output: its own, or ``input_<key>`` when ``key``
    is one of the output's ``reserved`` columns (a corpus's ``task_type`` label, say)."""
    return INPUT_PREFIX + key if key in reserved else key


def document_source(value: object, file_source: str) -> str:
    """A document's source: its own ``source`` field when that is a string, else its file's."""
    return value if isinstance(value, str) else file_source


@dataclass
class Record:
    """One input record: either ``fields`` (a usable object) or a quarantine ``reason``."""

    row: int
    fields: dict | None = None
    reason: str | None = None
    detail: str | None = None
    raw: bytes | None = None
    byte_offset: int | None = None
    raw_path: str | None = None


@dataclass
class FileReport:
    """What reading one file found, for the run summary."""

    path: str
    format: str = "unknown"
    bytes_read: int = 0
    records: int = 0
    blank_lines: int = 0
    warnings: list[str] = field(default_factory=list)


def _open(path: str | Path | Location):
    """A local path with the builtin ``open``; a ``Location`` (maybe remote) through fsspec."""
    return path.open("rb") if isinstance(path, Location) else open(path, "rb")


def sniff_format(path: str | Path | Location) -> str:
    """``gzip``, ``zstd``, ``parquet``, ``jsonl`` or ``empty``, from the file's first bytes."""
    with _open(path) as f:
        head = f.read(4)
    if not head:
        return "empty"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    return "jsonl"


def _expected_format(path: str) -> str:
    name = path.lower()
    if name.endswith(".gz"):
        return "gzip"
    if name.endswith(".zst"):
        return "zstd"
    if name.endswith(".parquet"):
        return "parquet"
    return "jsonl"


class StreamError(Exception):
    """A compressed stream that cannot be decoded past ``compressed_offset``."""

    def __init__(self, compressed_offset: int, message: str):
        super().__init__(message)
        self.compressed_offset = compressed_offset
        self.partial_line = b""
        self.next_row = 0


def _new_decompressor(fmt: str):
    if fmt == "gzip":
        return zlib.decompressobj(wbits=31)
    return zstandard.ZstdDecompressor().decompressobj()


def _decompressed_chunks(path: str | Location, fmt: str) -> Iterator[bytes]:
    """Yield decompressed bytes; raise StreamError at the first unreadable byte."""
    with _open(path) as f:
        if fmt == "jsonl":
            while chunk := f.read(CHUNK_BYTES):
                yield chunk
            return
        decompressor = _new_decompressor(fmt)
        inside_member = False
        offset = 0
        while chunk := f.read(CHUNK_BYTES):
            # Small slices: a corrupt slice loses only itself, and the offset is precise.
            for start in range(0, len(chunk), FEED_BYTES):
                pending = chunk[start : start + FEED_BYTES]
                # Concatenated members (gzip) or frames (zstd) are one logical stream.
                while pending:
                    inside_member = True
                    try:
                        out = decompressor.decompress(pending)
                    except (zlib.error, zstandard.ZstdError) as e:
                        raise StreamError(offset, f"{fmt} stream is corrupt: {e}") from e
                    if out:
                        yield out
                    pending = b""
                    if decompressor.eof:
                        pending = decompressor.unused_data
                        decompressor = _new_decompressor(fmt)
                        inside_member = False
                offset += min(FEED_BYTES, len(chunk) - start)
        if inside_member:
            raise StreamError(offset, f"{fmt} stream ends before its end marker (truncated file)")


def _lines(path: str | Location, fmt: str, report: FileReport) -> Iterator[tuple[int, int, bytes]]:
    """(row, byte offset in the decompressed stream, line) for every line, blank ones too."""
    pieces: list[bytes] = []  # the current line so far, when it spans chunks
    row = 0
    consumed = 0
    first = True
    try:
        for chunk in _decompressed_chunks(path, fmt):
            report.bytes_read += len(chunk)
            if first:
                first = False
                if chunk.startswith(UTF8_BOM):
                    chunk = chunk[len(UTF8_BOM) :]
                    consumed = len(UTF8_BOM)
            if b"\n" not in chunk:
                pieces.append(chunk)  # a long line: join once, when it ends
                continue
            *complete, rest = chunk.split(b"\n")
            if pieces:
                complete[0] = b"".join(pieces) + complete[0]
            pieces = [rest] if rest else []
            for line in complete:
                yield row, consumed, line
                consumed += len(line) + 1
                row += 1
    except StreamError as e:
        e.partial_line, e.next_row = b"".join(pieces), row
        raise
    if pieces:
        yield row, consumed, b"".join(pieces)


def _reject(
    row: int,
    reason: str,
    detail: str,
    raw: bytes | None,
    offset: int | None,
    parsed: object = None,
) -> Record:
    """A quarantined record; a parsed object is kept so its id reaches the ledger."""
    fields = parsed if isinstance(parsed, dict) else None
    return Record(row=row, fields=fields, reason=reason, detail=detail, raw=raw, byte_offset=offset)


def validate_fields(obj: object, text_key: str, max_chars: int) -> tuple[str | None, str | None]:
    """(reason, detail) why ``obj`` is not a usable document, or (None, None)."""
    if not isinstance(obj, dict):
        return reasons.NOT_AN_OBJECT, f"expected a JSON object, found {type(obj).__name__}"
    if text_key not in obj:
        found = ", ".join(sorted(map(str, obj))[:10])
        return reasons.MISSING_TEXT, f"no '{text_key}' field; fields found: {found}"
    text = obj[text_key]
    if text is None:
        return reasons.NULL_TEXT, f"'{text_key}' is null"
    if not isinstance(text, str):
        return reasons.NON_STRING_TEXT, f"'{text_key}' is {type(text).__name__}, expected a string"
    if not text:
        return reasons.EMPTY_TEXT, f"'{text_key}' is an empty string"
    if text.isspace():
        return reasons.WHITESPACE_TEXT, f"'{text_key}' holds only whitespace"
    if len(text) > max_chars:
        return reasons.TOO_LARGE, f"{len(text)} characters, limit is {max_chars} (--max-chars)"
    return None, None


def _jsonl_records(
    path: str | Location, fmt: str, text_key: str, max_chars: int, report: FileReport
) -> Iterator[Record]:
    # A line this long cannot hold a text within the limit (4 bytes per char at most).
    max_line_bytes = 4 * max_chars + 65536
    try:
        for row, offset, line in _lines(path, fmt, report):
            line = line.removesuffix(b"\r")
            if not line or line.isspace():
                report.blank_lines += 1
                continue
            report.records += 1
            if len(line) > max_line_bytes:
                yield _reject(row, reasons.TOO_LARGE, f"{len(line)} byte line", line, offset)
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as ue:
                    yield _reject(row, reasons.INVALID_UTF8, str(ue), line, offset)
                    continue
                reason = reasons.INVALID_UTF8 if "surrogate" in str(e) else reasons.MALFORMED_JSON
                yield _reject(row, reason, str(e), line, offset)
                continue
            reason, detail = validate_fields(obj, text_key, max_chars)
            if reason:
                yield _reject(row, reason, detail, line, offset, obj)
            else:
                yield Record(row=row, fields=obj, byte_offset=offset)
    except StreamError as e:
        report.records += 1
        report.warnings.append(str(e))
        yield Record(
            row=e.next_row,
            reason=reasons.CORRUPT_COMPRESSED_STREAM,
            detail=(
                f"{e}; every complete line before compressed byte {e.compressed_offset} was "
                f"read, raw holds the {len(e.partial_line)} decoded bytes of the broken line"
            ),
            raw=e.partial_line,
            byte_offset=e.compressed_offset,
        )


def _quarantine_copy(
    path: str | Location, quarantine_files: Path | None, name: str | None
) -> str | None:
    """Copy an unusable file under the quarantine folder; return its relative path.

    Without a quarantine folder nothing is copied (the record still says why).
    """
    if quarantine_files is None:
        return None
    name = name or os.path.basename(str(getattr(path, "url", path))) + ".quarantined"
    quarantine_files.mkdir(parents=True, exist_ok=True)
    target = quarantine_files / name
    with _open(path) as source, open(target, "wb") as copy:
        shutil.copyfileobj(source, copy)
    return f"{quarantine_files.name}/{name}"


def _parquet_records(
    path: str | Location,
    text_key: str,
    max_chars: int,
    report: FileReport,
    quarantine_files: Path | None,
    copy_name: str | None,
) -> Iterator[Record]:
    try:
        parquet = pq.ParquetFile(path.open("rb") if isinstance(path, Location) else path)
    except (pa.ArrowException, OSError) as e:
        report.records += 1
        yield Record(
            row=0,
            reason=reasons.CORRUPT_PARQUET,
            detail=f"cannot open as Parquet: {e}",
            raw_path=_quarantine_copy(path, quarantine_files, copy_name),
        )
        return
    report.bytes_read += path.size() if isinstance(path, Location) else Path(path).stat().st_size
    columns = parquet.schema_arrow.names
    if text_key not in columns:
        report.records += 1
        yield Record(
            row=0,
            reason=reasons.MISSING_TEXT_COLUMN,
            detail=(
                f"no '{text_key}' column in {parquet.metadata.num_rows} rows; "
                f"columns found: {', '.join(columns[:20])} (use --text-key)"
            ),
            raw_path=_quarantine_copy(path, quarantine_files, copy_name),
        )
        return
    row = 0
    try:
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            for obj in batch.to_pylist():
                report.records += 1
                reason, detail = validate_fields(obj, text_key, max_chars)
                if reason:
                    raw = orjson.dumps(obj, default=str)
                    yield _reject(row, reason, detail, raw, None, obj)
                else:
                    yield Record(row=row, fields=obj)
                row += 1
    except (pa.ArrowException, OSError) as e:
        report.records += 1
        yield Record(
            row=row,
            reason=reasons.CORRUPT_PARQUET,
            detail=f"rows from {row} on are unreadable: {e}",
            raw_path=_quarantine_copy(path, quarantine_files, copy_name),
        )


def read_records(
    path: str | os.PathLike | Location,
    text_key: str = "text",
    max_chars: int = DEFAULT_MAX_CHARS,
    quarantine_files: Path | None = None,
    copy_name: str | None = None,
) -> tuple[FileReport, Iterator[Record]]:
    """Open ``path`` whatever its format; return its report and a stream of its records.

    ``quarantine_files``/``copy_name`` is where a wholly unusable file is
    copied (nowhere when None). A ``Location`` is read through its filesystem
    (object storage included), a plain path with the builtin ``open``.
    """
    if isinstance(path, Location) and not path.remote:
        path = path.url
    path = path if isinstance(path, Location) else str(path)
    name = path.url if isinstance(path, Location) else path
    report = FileReport(path=name)
    try:
        fmt = sniff_format(path)
    except OSError as e:
        report.warnings.append(f"cannot open: {e}")
        report.records = 1
        return report, iter(
            [Record(row=0, reason=reasons.UNREADABLE_FILE, detail=f"cannot open {name}: {e}")]
        )
    report.format = fmt
    if fmt == "empty":
        report.warnings.append("empty file: no records")
        return report, iter(())
    expected = _expected_format(name)
    if expected != fmt:
        report.warnings.append(f"named like {expected} but its content is {fmt}; read as {fmt}")
    if fmt == "parquet":
        return report, _parquet_records(
            path, text_key, max_chars, report, quarantine_files, copy_name
        )
    return report, _jsonl_records(path, fmt, text_key, max_chars, report)
