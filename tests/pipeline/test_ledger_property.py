"""Property: for any mix of good and bad records, the ledger accounts for each exactly once."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import schema
from pipeline.prepare import PrepareConfig, PrepareError, prepare
from support.data import read_jsonl_gz

REAL_TEXTS = [r["text"] for r in read_jsonl_gz("tldr.jsonl.gz", 40)]
BAD_LINES = {
    b'{"text": "no closing quote}': schema.MALFORMED_JSON,
    b'"just a string"': schema.NOT_AN_OBJECT,
    b'{"text": "\xff\xfe"}': schema.INVALID_UTF8,
    b'{"id": "x"}': schema.MISSING_TEXT,
    b'{"text": null}': schema.NULL_TEXT,
    b'{"text": ["a", "list"]}': schema.NON_STRING_TEXT,
    b'{"text": ""}': schema.EMPTY_TEXT,
    b'{"text": "\\n  "}': schema.WHITESPACE_TEXT,
}

good_record = st.builds(
    lambda text, user_id, suffix: {"id": user_id, "text": text + suffix},
    st.sampled_from(REAL_TEXTS),
    st.one_of(st.none(), st.text(max_size=5), st.integers()),
    st.sampled_from(["", " extra words at the end", "\n"]),
)
line = st.one_of(
    good_record.map(lambda r: (json.dumps(r).encode(), None)),
    st.sampled_from(sorted(BAD_LINES.items())),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(line, min_size=1, max_size=40), st.booleans())
def test_ledger_has_one_row_per_record(lines, crlf):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        separator = b"\r\n" if crlf else b"\n"
        (folder / "records.jsonl").write_bytes(separator.join(raw for raw, _ in lines))
        config = PrepareConfig(inputs=[str(folder)], out=str(Path(tmp) / "out"), workers=1)
        try:
            prepare(config, log=lambda message: None)
        except PrepareError as error:  # a run where every record is bad fails by design
            assert all(reason for _, reason in lines), error
        ledger = pq.read_table(Path(tmp) / "out" / "ledger").to_pylist()
    assert len(ledger) == len(lines)
    by_row = {row["source_row"]: row for row in ledger}
    for row_number, (_, reason) in enumerate(lines):
        entry = by_row[row_number]
        if reason is None:
            assert entry["fate"] in (
                schema.FATE_KEPT,
                schema.FATE_EXACT_DUPLICATE,
                schema.FATE_NEAR_DUPLICATE,
            )
            assert (entry["duplicate_of"] is None) == (entry["fate"] == schema.FATE_KEPT)
        else:
            assert (entry["fate"], entry["reason"]) == (schema.FATE_QUARANTINED, reason)
