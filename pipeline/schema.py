"""The Parquet contract between procmix stages and its users.

Every file procmix writes under a prepare output folder has its schema here;
``mixtures`` and the tests read these names instead of repeating them.
"""

from __future__ import annotations

import pyarrow as pa

from classifiers.taxonomy import TOP3_TYPE

# Contamination columns, after TAG_SCHEMA: defined where both pipeline and mixtures read them.
from procmix_core.decont_match import DECONT_SCHEMA

# Quarantine reasons: defined where the reader gives them, named here beside the schemas.
from procmix_core.reasons import (  # noqa: F401 (re-exported)
    CORRUPT_COMPRESSED_STREAM,
    CORRUPT_PARQUET,
    EMPTY_TEXT,
    INVALID_UTF8,
    MALFORMED_JSON,
    MISSING_TEXT,
    MISSING_TEXT_COLUMN,
    NON_STRING_TEXT,
    NOT_AN_OBJECT,
    NULL_TEXT,
    TOO_LARGE,
    UNREADABLE_FILE,
    WHITESPACE_TEXT,
)

FATE_KEPT = "kept"
FATE_EXACT_DUPLICATE = "exact_duplicate"
FATE_NEAR_DUPLICATE = "near_duplicate"
FATE_QUARANTINED = "quarantined"
FATES = (FATE_KEPT, FATE_EXACT_DUPLICATE, FATE_NEAR_DUPLICATE, FATE_QUARANTINED)

# Columns every kept document has; input fields that are scalars follow them,
# renamed ``input_<name>`` when they collide with one of these
# (``procmix_core.readers.input_field_name``).
DOCS_SCHEMA = pa.schema(
    [
        pa.field("doc_key", pa.string(), nullable=False),
        pa.field("id", pa.string()),
        pa.field("text", pa.large_string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
        pa.field("n_chars", pa.int64(), nullable=False),
        pa.field("n_tokens", pa.int64(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("cluster_id", pa.int64(), nullable=False),
        pa.field("cluster_size", pa.int64(), nullable=False),
    ]
)
# Columns the classifier tagging step adds after DOCS_SCHEMA (``prepare`` tags
# by default). Input fields with these names are renamed too, so a corpus's
# own ``task_type`` label lands in ``input_task_type``.
TAG_SCHEMA = pa.schema(
    [
        pa.field("content_type", pa.string()),
        pa.field("p_procedural", pa.float32()),
        pa.field("p_factual", pa.float32()),
        pa.field("p_other", pa.float32()),
        pa.field("task_type", pa.string()),
        pa.field("task_p", pa.float32()),
        pa.field("task_top3", TOP3_TYPE),
    ]
)
RESERVED_COLUMNS = (
    frozenset(DOCS_SCHEMA.names)
    | frozenset(TAG_SCHEMA.names)
    | frozenset(DECONT_SCHEMA.names)
    | {"extra"}
)

# What ingest keeps per good record before clustering: DOCS_SCHEMA minus the
# cluster columns, plus the input's scalar fields as one JSON object.
INGEST_SCHEMA = pa.schema(
    [f for f in DOCS_SCHEMA if f.name not in ("cluster_id", "cluster_size")]
    + [pa.field("extra", pa.string())]
)

LEDGER_SCHEMA = pa.schema(
    [
        pa.field("doc_key", pa.string(), nullable=False),
        pa.field("id", pa.string()),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
        pa.field("fate", pa.string(), nullable=False),
        pa.field("reason", pa.string()),
        pa.field("duplicate_of", pa.string()),
        pa.field("cluster_id", pa.int64()),
    ]
)

# One row per quarantined record. ``raw`` holds the record's bytes as read;
# when a whole file is unusable its copy lives at ``raw_path`` (relative to the
# quarantine folder) instead, so memory never holds a whole file.
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("doc_key", pa.string(), nullable=False),
        pa.field("id", pa.string()),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
        pa.field("byte_offset", pa.int64()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
        pa.field("raw", pa.large_binary()),
        pa.field("raw_path", pa.string()),
    ]
)

# Near-duplicate clusters of more than one document, one row per member.
CLUSTERS_SCHEMA = pa.schema(
    [
        pa.field("node", pa.int64(), nullable=False),
        pa.field("representative", pa.int64(), nullable=False),
        pa.field("representative_key", pa.string(), nullable=False),
        pa.field("cluster_size", pa.int64(), nullable=False),
        pa.field("exact_copy_of_representative", pa.bool_(), nullable=False),
    ]
)


def doc_key(source_file: str, source_row: int) -> str:
    """The unique key of an input record: where it came from."""
    return f"{source_file}:{source_row}"
