"""Readers: every record comes out once, good or with the reason it is unusable."""

from __future__ import annotations

import gzip
from pathlib import Path

from pipeline import schema
from procmix_core.readers import read_records, sniff_format
from support.data import read_jsonl_gz


def _read(path: Path, tmp_path: Path, max_chars: int = 20_000):
    report, records = read_records(str(path), "text", max_chars, tmp_path / "q", "copy")
    return report, list(records)


def test_mixed_file_classifies_each_bad_line(bad_inputs, tmp_path):
    folder, _ = bad_inputs
    report, records = _read(folder / "mixed.jsonl", tmp_path)
    reasons = [r.reason for r in records]
    assert reasons == [
        None,
        schema.MALFORMED_JSON,
        schema.NOT_AN_OBJECT,
        schema.INVALID_UTF8,
        schema.MISSING_TEXT,
        schema.NULL_TEXT,
        schema.NON_STRING_TEXT,
        schema.EMPTY_TEXT,
        schema.WHITESPACE_TEXT,
        schema.TOO_LARGE,
        None,
    ]
    # Rows are line numbers: the two blank lines (10, 11) are skipped, not records.
    assert [r.row for r in records] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12]
    assert report.blank_lines == 2
    # BOM stripped and CRLF removed: the first and last records parse intact.
    first, last = read_jsonl_gz("theolb.jsonl.gz", 2)
    assert records[0].fields == first
    assert records[-1].fields == last
    assert records[3].raw == b'{"id": "bad-bytes", "text": "caf\xe9 au lait"}'


def test_truncated_gzip_keeps_readable_lines(tmp_path, data_dir):
    whole = (data_dir / "theolb.jsonl.gz").read_bytes()
    lines = gzip.decompress(whole).split(b"\n")
    blob = gzip.compress(b"\n".join(lines[:50]) + b"\n")
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(blob[: len(blob) // 2])
    report, records = _read(cut, tmp_path, max_chars=10**6)
    good = [r for r in records if r.reason is None]
    assert 0 < len(good) < 50
    assert [r.row for r in good] == list(range(len(good)))
    last = records[-1]
    assert last.reason == schema.CORRUPT_COMPRESSED_STREAM
    assert last.row == len(good)
    assert last.byte_offset is not None and 0 < last.byte_offset <= len(blob) // 2
    assert last.raw  # the decoded part of the broken line is kept
    assert any("truncated" in w for w in report.warnings)


def test_corrupt_gzip_body_is_reported_with_offset(tmp_path, data_dir):
    blob = bytearray((data_dir / "theolb.jsonl.gz").read_bytes())
    blob[len(blob) // 2 : len(blob) // 2 + 64] = b"\x00" * 64
    path = tmp_path / "corrupt.jsonl.gz"
    path.write_bytes(bytes(blob))
    _, records = _read(path, tmp_path, max_chars=10**6)
    assert records[-1].reason == schema.CORRUPT_COMPRESSED_STREAM
    assert sum(r.reason is None for r in records) > 0


def test_format_is_sniffed_not_trusted(bad_inputs, tmp_path):
    folder, _ = bad_inputs
    assert sniff_format(folder / "misnamed.jsonl.gz") == "jsonl"
    assert sniff_format(folder / "empty.jsonl") == "empty"
    report, records = _read(folder / "misnamed.jsonl.gz", tmp_path)
    assert len(records) == 2 and all(r.reason is None for r in records)
    assert "content is jsonl" in report.warnings[0]
    report, records = _read(folder / "empty.jsonl", tmp_path)
    assert records == [] and report.warnings == ["empty file: no records"]


def test_unusable_parquet_is_copied_to_quarantine(bad_inputs, tmp_path):
    folder, _ = bad_inputs
    _, records = _read(folder / "no_text_column.parquet", tmp_path)
    assert [r.reason for r in records] == [schema.MISSING_TEXT_COLUMN]
    assert "columns found: id, body" in records[0].detail
    copy = tmp_path / "q" / "copy"
    assert copy.read_bytes() == (folder / "no_text_column.parquet").read_bytes()
    _, records = _read(folder / "truncated.parquet", tmp_path)
    assert [r.reason for r in records] == [schema.CORRUPT_PARQUET]
