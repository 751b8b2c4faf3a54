"""Evaluation-set files: one JSON object per line, validated before anything is indexed.

The shape (``../shared/evalsets/README.md``): ``benchmark``, ``split``,
``item_id``, ``question``, ``answer``, ``choices`` (list of strings or null) and
``license``. ``benchmark``, ``item_id``, ``question`` and ``answer`` are
required; the others may be missing or null. Blank lines are skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import orjson

REQUIRED = ("benchmark", "item_id", "question", "answer")
OPTIONAL_STRINGS = ("split", "license")
# Errors listed in one report; the rest are counted.
MAX_LISTED_ERRORS = 20


@dataclass(frozen=True)
class EvalItem:
    benchmark: str
    split: str | None
    item_id: str
    question: str
    answer: str
    choices: tuple[str, ...]


class EvalsetError(ValueError):
    """Evaluation-set lines that cannot be used; each names its file and line."""

    def __init__(self, problems: list[str]):
        listed = problems[:MAX_LISTED_ERRORS]
        more = len(problems) - len(listed)
        super().__init__(
            "\n".join(listed + ([f"... and {more} more"] if more else []))
            + "\nexpected one JSON object per line with string fields "
            + ", ".join(REQUIRED)
            + " (choices: a list of strings or null)"
        )
        self.problems = problems


def _problem(record: object) -> str | None:
    """What is wrong with one parsed line, or None."""
    if not isinstance(record, dict):
        return f"expected a JSON object, found {type(record).__name__}"
    for key in REQUIRED:
        if key not in record:
            return f"missing {key!r}"
        if not isinstance(record[key], str):
            return f"{key!r} must be a string, found {type(record[key]).__name__}"
    for key in ("benchmark", "item_id", "question"):
        if not record[key].strip():
            return f"{key!r} is empty"
    for key in OPTIONAL_STRINGS:
        if record.get(key) is not None and not isinstance(record[key], str):
            return f"{key!r} must be a string or null, found {type(record[key]).__name__}"
    choices = record.get("choices")
    if choices is not None and not (
        isinstance(choices, list) and all(isinstance(c, str) for c in choices)
    ):
        return f"'choices' must be a list of strings or null, found {choices!r:.60}"
    return None


def read_evalsets(paths: list[str | os.PathLike]) -> list[EvalItem]:
    """Every item of ``paths``, in file then line order; raises EvalsetError listing every
    bad line (``file:line: problem``), including item ids used twice."""
    items: list[EvalItem] = []
    problems: list[str] = []
    first_seen: dict[str, str] = {}
    for path in paths:
        try:
            lines = Path(path).read_bytes().splitlines()
        except OSError as e:
            problems.append(f"{path}: cannot read: {e.strerror or e}")
            continue
        for number, line in enumerate(lines, start=1):
            where = f"{path}:{number}"
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                problems.append(f"{where}: malformed JSON ({e})")
                continue
            problem = _problem(record)
            if problem is None and record["item_id"] in first_seen:
                problem = (
                    f"item_id {record['item_id']!r} already used at {first_seen[record['item_id']]}"
                )
            if problem is not None:
                problems.append(f"{where}: {problem}")
                continue
            first_seen[record["item_id"]] = where
            items.append(
                EvalItem(
                    benchmark=record["benchmark"],
                    split=record.get("split"),
                    item_id=record["item_id"],
                    question=record["question"],
                    answer=record["answer"],
                    choices=tuple(record.get("choices") or ()),
                )
            )
    if problems:
        raise EvalsetError(problems)
    if not items:
        raise EvalsetError([f"no items in {' '.join(map(str, paths))}"])
    return items
