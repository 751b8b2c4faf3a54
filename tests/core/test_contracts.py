"""The contracts procmix_core holds once for every package: the token estimate (numpy and
SQL), SplitMix64, file sha256."""

from __future__ import annotations

import hashlib

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from procmix_core.hashing import file_sha256, splitmix64
from procmix_core.tokens import estimated_tokens, estimated_tokens_sql


def test_the_token_estimate_is_one_rule_in_numpy_sql_and_what_prepare_stored(small_corpus):
    docs = pq.read_table(small_corpus / "docs", columns=["text", "n_tokens"])
    texts = docs["text"].to_pylist() + ["é", "日本語", "abcd", "abcde"]
    n_bytes = np.array([len(t.encode()) for t in texts])
    estimate = estimated_tokens(n_bytes)
    assert estimate[-4:].tolist() == [1, 3, 1, 2]
    texts_table = pa.table({"text": texts})  # noqa: F841 (DuckDB reads it by name)
    sql = duckdb.sql(f"SELECT {estimated_tokens_sql('strlen(text)')} FROM texts_table").fetchall()
    assert [n for (n,) in sql] == estimate.tolist()
    assert docs["n_tokens"].to_pylist() == estimate[: docs.num_rows].tolist()


def test_splitmix64_gives_the_published_sequence():
    # SplitMix64 seeded with 0 (Vigna's reference splitmix64.c): states gamma, 2 gamma, ...
    gamma = 0x9E3779B97F4A7C15
    states = np.array([0, gamma, (2 * gamma) % 2**64], dtype=np.uint64)
    assert [hex(v) for v in splitmix64(states)] == [
        "0xe220a8397b1dcdaf",
        "0x6e789e6aa1b965f4",
        "0x6c45d188009454f",
    ]


def test_file_sha256_reads_in_chunks_what_hashlib_gives_at_once(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(bytes(range(256)) * 9000)  # over one chunk
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
