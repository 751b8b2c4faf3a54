"""``procmix tag``: the tag columns added to every record of a JSONL file."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import orjson

from classifiers.tagging import Tagger

INPUT_PREFIX = "input_"


def _open(path: Path, mode: str):
    return gzip.open(path, mode) if path.name.endswith(".gz") else path.open(mode)


def tag_jsonl(source: Path, out: Path, models: Path, batch_size: int = 1024) -> int:
    """Tag ``source`` into ``out`` (gzip when it ends in .gz); return the number of records.

    Records without a string ``text`` are copied with null tags. An input field
    named like a tag column is kept as ``input_<name>`` (as prepare does).
    """
    tagger = Tagger(models)
    count = 0
    with _open(source, "rb") as f, _open(out, "wb") as w:
        records = (orjson.loads(line) for line in f if line.strip())
        while batch := list(itertools.islice(records, batch_size)):
            texted = [i for i, r in enumerate(batch) if isinstance(r.get("text"), str)]
            columns = tagger.tag([batch[i]["text"] for i in texted])
            tags = [dict.fromkeys(columns) for _ in batch]
            for name, values in columns.items():
                for i, value in zip(texted, values.to_pylist(), strict=True):
                    tags[i][name] = value
            for record, tag in zip(batch, tags, strict=True):
                renamed = {(INPUT_PREFIX + k if k in tag else k): v for k, v in record.items()}
                w.write(orjson.dumps({**renamed, **tag}) + b"\n")
            count += len(batch)
    return count
