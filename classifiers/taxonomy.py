"""The labels the classifiers emit (DESIGN.md's taxonomy), in one place."""

from __future__ import annotations

import pyarrow as pa

CONTENT_TYPE = "content_type"
TASK_TYPE = "task_type"
HEADS = (CONTENT_TYPE, TASK_TYPE)

PROCEDURAL = "procedural"
FACTUAL = "factual"
# Both heads end with it: content that is neither, a task type that is none of the others.
OTHER = "other"
CONTENT_LABELS = (PROCEDURAL, FACTUAL, OTHER)
TASK_LABELS = (
    "math",
    "code",
    "computing",
    "science",
    "health",
    "cooking",
    "home_diy",
    "business_law",
    "language",
    "reasoning",
    "humanities",
    OTHER,
)
LABELS = {CONTENT_TYPE: CONTENT_LABELS, TASK_TYPE: TASK_LABELS}

# How a document's three most probable task types are stored: a list of {label, p}.
TOP3_TYPE = pa.list_(pa.struct([pa.field("label", pa.string()), pa.field("p", pa.float32())]))

# The field of a labelled JSONL record that holds each head's label.
LABEL_FIELDS = {CONTENT_TYPE: "label_procedural", TASK_TYPE: "task_type"}
