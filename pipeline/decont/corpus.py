"""Decontamination of a finished corpus: tag it into a new folder, or report on it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import schema
from pipeline.stats import build_stats_db
from procmix_core.atomic import AtomicParquetWriter, atomic_dir, atomic_path, json_text
from procmix_core.decont_match import (
    BATCH_ROWS,
    CORPUS_INDEX_DIR,
    DecontIndex,
    DecontIndexError,
    Tally,
    contam_columns,
    corpus_index,
    load_index,
    tally_files,
)
from procmix_core.layout import (
    DOCS_DIR,
    LEDGER_DIR,
    PARQUET_GLOB,
    QUARANTINE_DIR,
    RUN_FILE,
    SUMMARY_FILE,
    CorpusLayout,
)
from procmix_core.storage import Location, Workspace

# What `decont tag` copies from the corpus unchanged (docs are rewritten, the rest rebuilt).
COPIED = (LEDGER_DIR, QUARANTINE_DIR, "_logs", RUN_FILE)


def install_index(index: DecontIndex, corpus: Path) -> DecontIndex:
    """Copy ``index`` into ``corpus/decont-index`` so the corpus carries what it was checked
    against; returns the copy."""
    target = corpus / CORPUS_INDEX_DIR
    if target.resolve() != index.path.resolve():
        with atomic_dir(target) as tmp:
            shutil.copytree(index.path, tmp, dirs_exist_ok=True)
    return load_index(target)


def decont_schema(docs: pa.Schema) -> pa.Schema:
    """``docs`` with the DECONT_SCHEMA columns after the procmix columns (replacing old ones)."""
    fields = [f for f in docs if f.name not in schema.DECONT_SCHEMA.names]
    own = set(schema.DOCS_SCHEMA.names) | set(schema.TAG_SCHEMA.names)
    at = max(i for i, f in enumerate(fields) if f.name in own) + 1
    return pa.schema(fields[:at] + list(schema.DECONT_SCHEMA) + fields[at:])


def summary_entry(tally: Tally, index_source: str, seconds: float | None = None) -> dict:
    """The ``decont`` entry of summary.json."""
    entry = {"index": index_source, **tally.summary()}
    if seconds is not None:
        entry["seconds"] = round(seconds, 3)
    return entry


def tag_corpus(
    corpus: str | os.PathLike, index_path: str | os.PathLike, out: str | os.PathLike
) -> dict:
    """Write ``out``: a copy of ``corpus`` whose docs carry the contamination columns of
    ``index_path``. ``corpus`` is never modified; ``out`` appears whole. Returns the
    summary entry."""
    source, target = Path(corpus), Path(out)
    files = sorted(CorpusLayout(source).docs.glob(PARQUET_GLOB))
    if not files:
        raise DecontIndexError(
            f"no docs/*.parquet under {source}: is it a `procmix prepare` output?"
        )
    if target.exists():
        raise DecontIndexError(f"{target} exists: -o must be a new folder (corpora are not edited)")
    index = load_index(index_path)
    with atomic_dir(target) as tmp:
        for name in COPIED:
            path = source / name
            if path.is_dir():
                shutil.copytree(path, tmp / name)
            elif path.exists():
                shutil.copy2(path, tmp / name)
        copy = install_index(index, tmp)
        tally = Tally(copy)
        for path in files:
            out_schema = decont_schema(pq.read_schema(path))
            with AtomicParquetWriter(tmp / DOCS_DIR / path.name, out_schema) as writer:
                for batch in pq.ParquetFile(path).iter_batches(BATCH_ROWS):
                    columns = {name: batch[name] for name in batch.schema.names}
                    columns.update(contam_columns(copy, batch["text"]))
                    table = pa.table(columns).select(out_schema.names).cast(out_schema)
                    tally.add(table)
                    writer.write(table)
        entry = summary_entry(tally, str(index_path))
        summary_path = CorpusLayout(source).summary
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
        summary["decont"] = entry
        summary["out"] = str(target)
        (tmp / SUMMARY_FILE).write_text(json_text(summary))
        build_stats_db(Workspace(Location.of(tmp), tmp))
    return entry


def report(
    folder: str | os.PathLike,
    index_path: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None,
) -> dict[str, dict]:
    """Per-benchmark contamination (``Tally.benchmarks``) of a corpus (``docs/*.parquet``)
    or of any folder of Parquet files with ``text`` and ``n_tokens`` (a mixture's
    ``shard-*.parquet``).

    Files with filled ``contam_*`` columns are read as tagged; others are matched
    against the index: ``index_path``, else the one the folder carries. With
    ``out_dir``, writes ``<benchmark>.dirty.txt`` (items found), ``.clean.txt``
    (indexed items not found) and ``.unchecked.txt`` (items too short to index),
    one item id a line, in index order.
    """
    root = Path(folder)
    files = sorted(CorpusLayout(root).docs.glob(PARQUET_GLOB)) or sorted(root.glob("*.parquet"))
    if not files:
        raise DecontIndexError(f"no docs/*.parquet or *.parquet under {root}")
    index = load_index(index_path) if index_path is not None else corpus_index(root)
    if index is None:
        raise DecontIndexError(
            f"{root} carries no {CORPUS_INDEX_DIR}/: give --index INDEX (built with "
            "`procmix decont index`)"
        )
    tally = tally_files(files, index)
    if out_dir is not None:
        _write_item_lists(tally, Path(out_dir))
    return tally.benchmarks()


def _write_item_lists(tally: Tally, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    index = tally.index
    for name in index.benchmarks:
        dirty = tally.items_hit.get(name, set())
        lists = {"dirty": [], "clean": [], "unchecked": []}
        for item in index.item_ids:
            if index.benchmark_of[item] != name:
                continue
            kind = "dirty" if item in dirty else "clean" if item in index.indexed else "unchecked"
            lists[kind].append(item)
        for kind, items in lists.items():
            with atomic_path(out / f"{name}.{kind}.txt") as tmp:
                tmp.write_text("".join(f"{item}\n" for item in items))
