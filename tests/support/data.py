"""Real inputs for the tests: slices of ../shared/data, broken files, a quiet prepare."""

from __future__ import annotations

import gzip
import io
import itertools
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from pipeline.prepare import PrepareConfig, prepare

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("PROCMIX_DATA", REPO.parent / "shared" / "data"))
EVALSETS = REPO.parent / "shared" / "evalsets"
# Small real sources, tagged, plus the broken inputs (so the report has quarantine
# reasons): the corpus and sweep the report tests (conftest) and the browser check read.
REPORT_SOURCES = (
    "gsm8k.jsonl.gz",
    "beeton_household.jsonl.gz",
    "needlework_pg20776.jsonl.gz",
    "dudeney_pg16713.jsonl.gz",
    "thealgorithms_python.jsonl.gz",
    "wikipedia.jsonl.gz",
    "devil.jsonl.gz",
)


def read_jsonl_gz(name: str, limit: int | None = None) -> list[dict]:
    """The first ``limit`` records of a shared data file."""
    with gzip.open(DATA / name, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in itertools.islice(f, limit)]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    """``records`` as gzipped JSONL at ``path``."""
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
    return path


def prepare_quietly(inputs: Path | list[Path], out: Path, **settings) -> dict:
    """``procmix prepare`` of ``inputs`` into ``out`` with ``settings``, without progress lines."""
    paths = inputs if isinstance(inputs, list) else [inputs]
    config = PrepareConfig(inputs=[str(p) for p in paths], out=str(out), **settings)
    return prepare(config, log=lambda message: None)


def write_bad_inputs(folder: Path) -> dict[str, int]:
    """Write one file per kind of bad input; return expected quarantine counts by reason."""
    folder.mkdir(parents=True, exist_ok=True)
    good = read_jsonl_gz("theolb.jsonl.gz", 12)
    lines = [json.dumps(r).encode() for r in good]

    mixed = [
        lines[0],
        b'{"id": "broken", "text": "unterminated',  # malformed_json
        b"[1, 2, 3]",  # not_an_object
        b'{"id": "bad-bytes", "text": "caf\xe9 au lait"}',  # invalid_utf8 (latin-1 byte)
        b'{"id": "no-text", "body": "text is elsewhere"}',  # missing_text
        b'{"id": "null-text", "text": null}',  # null_text
        b'{"id": "number-text", "text": 42}',  # non_string_text
        b'{"id": "empty", "text": ""}',  # empty_text
        b'{"id": "blank", "text": "  \\n\\t "}',  # whitespace_text
        json.dumps({"id": "huge", "text": "word " * 5000}).encode(),  # too_large (limit 20k)
        b"",  # blank line: not a record
        b"   ",  # blank line: not a record
        lines[1],
    ]
    # BOM at the start and CRLF line endings must not hurt the good records.
    (folder / "mixed.jsonl").write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(mixed) + b"\r\n")

    whole = gzip.compress(b"\n".join(lines[2:8]) + b"\n")
    (folder / "truncated.jsonl.gz").write_bytes(whole[: len(whole) * 2 // 3])
    zst = zstandard.ZstdCompressor().compress(b"\n".join(lines[8:12]) + b"\n")
    (folder / "truncated.jsonl.zst").write_bytes(zst[: len(zst) - 40])
    # Plain JSONL under a .gz name: read by content, with a warning.
    (folder / "misnamed.jsonl.gz").write_bytes(b"\n".join(lines[3:5]) + b"\n")
    (folder / "empty.jsonl").write_bytes(b"")

    buffer = io.BytesIO()
    pq.write_table(pa.table({"id": ["p1", "p2"], "body": ["a", "b"]}), buffer)
    (folder / "no_text_column.parquet").write_bytes(buffer.getvalue())
    buffer = io.BytesIO()
    texts = pa.table({"id": [r["id"] for r in good], "text": [r["text"] for r in good]})
    pq.write_table(texts, buffer)
    (folder / "truncated.parquet").write_bytes(buffer.getvalue()[:-100])
    # A good Parquet file reusing an id of mixed.jsonl: still a distinct document.
    pq.write_table(
        pa.table({"id": [good[0]["id"]], "text": [good[5]["text"]]}),
        folder / "same_ids.parquet",
    )
    return {
        "malformed_json": 1,
        "not_an_object": 1,
        "invalid_utf8": 1,
        "missing_text": 1,
        "null_text": 1,
        "non_string_text": 1,
        "empty_text": 1,
        "whitespace_text": 1,
        "too_large": 1,
        "corrupt_compressed_stream": 2,
        "missing_text_column": 1,
        "corrupt_parquet": 1,
    }
