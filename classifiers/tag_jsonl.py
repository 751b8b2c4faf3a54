"""``procmix tag``: the tag columns added to every usable record of a JSONL file.

The file is read as ``prepare`` reads its inputs (``procmix_core.readers``), so
a record prepare would quarantine is quarantined here too, for the same
reason, in a JSONL file beside the output; the run never stops on one.
"""

from __future__ import annotations

import gzip
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import orjson

from classifiers.tagging import Tagger
from procmix_core.atomic import atomic_path
from procmix_core.readers import Record, input_field_name, read_records, source_name

QUARANTINE_SUFFIX = ".quarantine.jsonl"


@dataclass
class TagReport:
    """What ``tag_jsonl`` did: records tagged, records quarantined by reason, and where."""

    tagged: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    quarantine: Path | None = None
    warnings: list[str] = field(default_factory=list)


def quarantine_path(out: Path) -> Path:
    """Where the quarantined records of a tag run into ``out`` go: beside it."""
    return out.with_name(source_name(str(out)) + QUARANTINE_SUFFIX)


def _open(path: Path, target: Path) -> BinaryIO:
    """``path`` opened for writing, gzip when ``target`` (its final name) ends in .gz."""
    return gzip.open(path, "wb") if target.name.endswith(".gz") else path.open("wb")


def _quarantine_row(record: Record) -> bytes:
    raw = record.raw.decode("utf-8", "backslashreplace") if record.raw is not None else None
    row = {
        "row": record.row,
        "byte_offset": record.byte_offset,
        "reason": record.reason,
        "detail": record.detail,
        "raw": raw,
    }
    return orjson.dumps(row) + b"\n"


def tag_jsonl(source: Path, out: Path, models: Path, batch_size: int = 1024) -> TagReport:
    """Tag ``source`` into ``out`` (gzip when it ends in .gz); quarantine unusable records.

    An input field named like a tag column is kept as ``input_<name>`` (as
    prepare does). Quarantined records go to ``quarantine_path(out)``, written
    only when there is one. Both files appear whole when the run ends.
    """
    tagger = Tagger(models)
    report = TagReport()
    file_report, records = read_records(source)
    with ExitStack() as stack:
        w = stack.enter_context(_open(stack.enter_context(atomic_path(out)), out))
        quarantine: BinaryIO | None = None
        batch: list[dict] = []
        for record in records:
            if record.reason is None:
                batch.append(record.fields)
                if len(batch) >= batch_size:
                    report.tagged += _write_batch(tagger, batch, w)
                    batch = []
                continue
            if quarantine is None:
                report.quarantine = quarantine_path(out)
                quarantine = stack.enter_context(
                    open(stack.enter_context(atomic_path(report.quarantine)), "wb")
                )
            report.quarantined[record.reason] += 1
            quarantine.write(_quarantine_row(record))
        report.tagged += _write_batch(tagger, batch, w)
    report.warnings = file_report.warnings
    return report


def _write_batch(tagger: Tagger, batch: list[dict], w: BinaryIO) -> int:
    if not batch:
        return 0
    columns = tagger.tag([record["text"] for record in batch])
    values = {name: column.to_pylist() for name, column in columns.items()}
    for i, record in enumerate(batch):
        renamed = {input_field_name(k, columns): v for k, v in record.items()}
        w.write(orjson.dumps({**renamed, **{name: values[name][i] for name in columns}}) + b"\n")
    return len(batch)
