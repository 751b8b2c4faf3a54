"""Final outputs of a prepare run: kept documents, the ledger, and their column types."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.pipeline.base import PipelineStep

from classifiers.model import MODELS_DIR
from classifiers.tagging import shared_tagger
from pipeline import schema
from pipeline.layout import Layout
from procmix_core.atomic import AtomicParquetWriter
from procmix_core.decont_match import contam_columns, shared_index, unchecked_columns
from procmix_core.readers import input_field_name

BATCH_ROWS = 1024
# CPU time spent tagging, in the step's datatrove stats (summed over ranks for the summary).
TAG_MICROSECONDS = "tag_microseconds"
DECONT_MICROSECONDS = "decont_microseconds"
_ARROW_TYPES = {
    "bool": pa.bool_(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "string": pa.string(),
}


def extra_column_types(kinds_per_rank: list[dict[str, list[str]]]) -> dict[str, str]:
    """One Arrow type per input field, from the kinds of value seen across all ranks.

    Fields keep their type when every value agrees (ints mixed with floats
    become float64); any other mixture is stored as strings (JSON for
    non-strings), so every docs file has the same schema.
    """
    seen: dict[str, set[str]] = {}
    for kinds in kinds_per_rank:
        for key, names in kinds.items():
            seen.setdefault(key, set()).update(names)
    result = {}
    for key in sorted(seen):
        kinds = seen[key]
        if kinds == {"bool"}:
            result[key] = "bool"
        elif kinds == {"int"}:
            result[key] = "int64"
        elif kinds <= {"int", "float"}:
            result[key] = "float64"
        else:
            result[key] = "string"
    return result


def docs_schema(extra_types: dict[str, str], tag: bool = False) -> pa.Schema:
    """DOCS_SCHEMA, TAG_SCHEMA when tagging, DECONT_SCHEMA, then one column per input field
    (renamed when it collides)."""
    fields = list(schema.DOCS_SCHEMA) + (list(schema.TAG_SCHEMA) if tag else [])
    fields += list(schema.DECONT_SCHEMA)
    for key, type_name in extra_types.items():
        fields.append(pa.field(_column_name(key), _ARROW_TYPES[type_name]))
    return pa.schema(fields)


def _column_name(key: str) -> str:
    return input_field_name(key, schema.RESERVED_COLUMNS)


def _convert(value: object, type_name: str) -> object:
    if value is None or type_name != "string" or isinstance(value, str):
        return float(value) if type_name == "float64" and value is not None else value
    return orjson.dumps(value).decode()


class WriteOutputs(PipelineStep):
    """For one ingest rank: kept documents to ``docs/``, every record's fate to ``ledger/``."""

    name = "write outputs"
    type = "💽 - WRITER"

    def __init__(
        self,
        out: str,
        ingest_ranks: int,
        extra_types: dict[str, str],
        tag: bool = False,
        decont: str | None = None,
    ):
        """``tag``: tag kept documents with the shipped classifiers, found where the
        worker running the rank has procmix installed (another host's path may differ);
        ``decont``: the local index folder to check them against (None: contam columns
        null), which every worker must be able to read."""
        super().__init__()
        self.out = out
        self.ingest_ranks = ingest_ranks
        self.extra_types = extra_types
        self.tag = tag
        self.decont = decont

    def needs(self, rank: int, world_size: int) -> list[str]:
        names = Layout.names()
        paths = [names.doc_offsets_file, names.clusters]
        return [str(p) for p in [*paths, names.ingest_docs(rank), names.quarantine_file(rank)]]

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if data:
            yield from data
        layout = Layout(Path(self.out))
        offsets = layout.doc_offsets()
        first, end = int(offsets[rank]), int(offsets[rank + 1])
        clusters = pq.read_table(
            layout.clusters, filters=[("node", ">=", first), ("node", "<", end)]
        )
        cluster_nodes = clusters["node"].to_numpy()
        out_schema = docs_schema(self.extra_types, tag=self.tag)
        with (
            AtomicParquetWriter(layout.docs_file(rank), out_schema) as docs,
            AtomicParquetWriter(layout.ledger_file(rank), schema.LEDGER_SCHEMA) as ledger,
        ):
            number = first
            for batch in pq.ParquetFile(layout.ingest_docs(rank)).iter_batches(BATCH_ROWS):
                nodes = np.arange(number, number + batch.num_rows, dtype=np.int64)
                number += batch.num_rows
                self._write_batch(batch, nodes, clusters, cluster_nodes, docs, ledger, out_schema)
            quarantined = pq.read_table(
                layout.quarantine_file(rank),
                columns=["doc_key", "id", "source_file", "source_row", "reason"],
            )
            self.stat_update(schema.FATE_QUARANTINED, value=quarantined.num_rows)
            ledger.write(
                pa.table(
                    {
                        "doc_key": quarantined["doc_key"],
                        "id": quarantined["id"],
                        "source_file": quarantined["source_file"],
                        "source_row": quarantined["source_row"],
                        "fate": pa.array([schema.FATE_QUARANTINED] * quarantined.num_rows),
                        "reason": quarantined["reason"],
                        "duplicate_of": pa.nulls(quarantined.num_rows, pa.string()),
                        "cluster_id": pa.nulls(quarantined.num_rows, pa.int64()),
                    },
                    schema=schema.LEDGER_SCHEMA,
                )
            )

    def _write_batch(self, batch, nodes, clusters, cluster_nodes, docs, ledger, out_schema):
        clustered = np.zeros(len(nodes), dtype=bool)
        position = np.zeros(len(nodes), dtype=np.int64)
        if len(cluster_nodes):
            position = np.minimum(np.searchsorted(cluster_nodes, nodes), len(cluster_nodes) - 1)
            clustered = cluster_nodes[position] == nodes
        found = pa.array(position[clustered])
        representative = nodes.copy()
        size = np.ones(len(nodes), dtype=np.int64)
        exact = np.zeros(len(nodes), dtype=bool)
        duplicate_of = np.full(len(nodes), None, dtype=object)
        if clustered.any():
            representative[clustered] = clusters["representative"].take(found).to_numpy()
            size[clustered] = clusters["cluster_size"].take(found).to_numpy()
            exact[clustered] = clusters["exact_copy_of_representative"].take(found).to_numpy()
            duplicate_of[clustered] = (
                clusters["representative_key"].take(found).to_numpy(zero_copy_only=False)
            )
        kept = representative == nodes
        duplicate_of[kept] = None
        fate = np.where(
            kept,
            schema.FATE_KEPT,
            np.where(exact, schema.FATE_EXACT_DUPLICATE, schema.FATE_NEAR_DUPLICATE),
        )
        for name, count in zip(*np.unique(fate, return_counts=True), strict=True):
            self.stat_update(str(name), value=int(count))
        ledger.write(
            pa.table(
                {
                    "doc_key": batch["doc_key"],
                    "id": batch["id"],
                    "source_file": batch["source_file"],
                    "source_row": batch["source_row"],
                    "fate": pa.array(fate, pa.string()),
                    "reason": pa.nulls(len(nodes), pa.string()),
                    "duplicate_of": pa.array(duplicate_of, pa.string()),
                    "cluster_id": pa.array(representative),
                },
                schema=schema.LEDGER_SCHEMA,
            )
        )
        keep = pa.array(kept)
        kept_batch = batch.filter(keep)
        columns = {name: kept_batch[name] for name in schema.INGEST_SCHEMA.names if name != "extra"}
        columns["cluster_id"] = pa.array(representative[kept])
        columns["cluster_size"] = pa.array(size[kept])
        if self.tag:
            # CPU time, not wall time: the figure is per core, whatever else shares it.
            started = time.process_time()
            columns.update(shared_tagger(str(MODELS_DIR)).tag(kept_batch["text"]))
            self.stat_update(TAG_MICROSECONDS, value=round((time.process_time() - started) * 1e6))
        if self.decont is None:
            columns.update(unchecked_columns(kept_batch.num_rows))
        else:
            started = time.process_time()
            columns.update(contam_columns(shared_index(self.decont), kept_batch["text"]))
            self.stat_update(
                DECONT_MICROSECONDS, value=round((time.process_time() - started) * 1e6)
            )
        extras = [orjson.loads(e) if e else {} for e in kept_batch["extra"].to_pylist()]
        for key, type_name in self.extra_types.items():
            columns[_column_name(key)] = pa.array(
                [_convert(e.get(key), type_name) for e in extras], _ARROW_TYPES[type_name]
            )
        docs.write(pa.table(columns, schema=out_schema))
