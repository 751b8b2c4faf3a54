"""Files that appear whole or not at all: write beside the target, then rename."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

TMP_SUFFIX = ".tmp"


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + TMP_SUFFIX)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def json_text(obj: object) -> str:
    """How procmix writes every JSON file: sorted keys, two-space indent, final newline."""
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty folder next to ``path``; on success it replaces ``path`` whole.

    On failure nothing changes: a reader sees the old folder or the new one.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + TMP_SUFFIX)
    old = target.with_name(target.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def write_json(path: str | os.PathLike, obj: object) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json_text(obj))


class AtomicParquetWriter:
    """A zstd Parquet writer whose file only appears, complete, on ``close()``."""

    def __init__(self, path: str | os.PathLike, schema: pa.Schema, compression_level: int = 3):
        self._context = atomic_path(path)
        self._tmp = self._context.__enter__()
        self._writer = pq.ParquetWriter(
            self._tmp, schema, compression="zstd", compression_level=compression_level
        )
        self.schema = schema
        self.rows = 0

    def write(self, table: pa.Table | pa.RecordBatch) -> None:
        if table.num_rows:
            self._writer.write(table)
            self.rows += table.num_rows

    def write_rows(self, rows: list[dict]) -> None:
        if rows:
            self.write(pa.Table.from_pylist(rows, schema=self.schema))

    def close(self) -> None:
        self._writer.close()
        self._context.__exit__(None, None, None)

    def abort(self) -> None:
        self._writer.close()
        self._context.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def __enter__(self) -> AtomicParquetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
