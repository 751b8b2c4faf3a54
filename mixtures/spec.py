"""Mixture specs: YAML in, a validated ``MixSpec`` out, errors that say expected vs found."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from classifiers.taxonomy import TASK_LABELS
from mixtures.abstain import PROBABILITY_COLUMNS
from procmix_core.storage import is_url

ORDERS = ("shuffled", "structured_first")
# DESIGN.md's task types: the only names ``tasks:`` accepts.
TASK_TYPES = TASK_LABELS
DEFAULT_LABELS = {"content_type": "content_type", "task_type": "task_type"}
# ``labels.min_confidence``: set aside documents whose label's probability is lower.
MIN_CONFIDENCE = "min_confidence"
# ``decontaminate.benchmarks``: every benchmark of the corpus's index.
ALL_BENCHMARKS = "all"


class SpecError(ValueError):
    """A spec that cannot be used as written; the message names the field."""


@dataclass(frozen=True)
class TaskBounds:
    min: float = 0.0
    max: float = 1.0


@dataclass(frozen=True)
class Diversity:
    """Hill-number targets over task types within procedural tokens."""

    d1: float | None = None
    d0_min: float | None = None
    d0_max: float | None = None
    d2_min: float | None = None
    d2_max: float | None = None
    # Within-type Vendi bounds (checked, never optimised): a number bounds every
    # procedural task type, a mapping names task types and/or ``combined``.
    within_min: float | dict[str, float] | None = None
    within_sample: int = 1000


@dataclass(frozen=True)
class Decontaminate:
    """Which flagged documents to exclude: those hitting one of ``benchmarks`` (a tuple
    of names, or ``"all"`` of the corpus's index) with more than ``max_matched_ngrams``
    matched n-grams."""

    benchmarks: str | tuple[str, ...] = ALL_BENCHMARKS
    max_matched_ngrams: int = 0


@dataclass(frozen=True)
class MixSpec:
    name: str
    corpus: str
    tokens: int
    procedural_share: float
    diversity: Diversity = field(default_factory=Diversity)
    tasks: dict[str, TaskBounds] = field(default_factory=dict)
    max_epochs: int = 1
    source_tolerance: float = 0.01
    seed: int = 0
    shard_rows: int | None = None
    shard_bytes: int | None = 256 * 2**20
    tokenizer: str | None = None
    order: str = "shuffled"
    noise_correction: bool = False
    labels: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_LABELS))
    # labels.min_confidence (None: every document is a candidate): see mixtures.abstain.
    min_confidence: float | None = None
    # None: exclude everything the corpus's index flagged, when the corpus was checked.
    decontaminate: Decontaminate | None = None
    # fsspec options for an s3:// corpus or output: credentials may be among them, so
    # they stay out of repr and of to_dict (which manifests and sweep.json record).
    storage_options: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def with_d1(self, d1: float, name: str) -> MixSpec:
        return dataclasses.replace(
            self, name=name, diversity=dataclasses.replace(self.diversity, d1=d1)
        )

    def to_dict(self) -> dict[str, Any]:
        """What a manifest records of the spec: everything but the storage options, with
        ``min_confidence`` under ``labels`` as the YAML has it (and only when given, so a
        spec without it records what it did before the key existed)."""
        skip = ("storage_options", "min_confidence")
        raw = {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}
        if self.min_confidence is not None:
            raw["labels"] = {**raw["labels"], MIN_CONFIDENCE: self.min_confidence}
        return raw


_TOP_KEYS = {
    "name",
    "corpus",
    "tokens",
    "procedural_share",
    "diversity",
    "tasks",
    "max_epochs",
    "source_tolerance",
    "seed",
    "shard",
    "tokenizer",
    "order",
    "noise_correction",
    "labels",
    "storage_options",
    "decontaminate",
}


def _fail(where: str, expected: str, found: object) -> SpecError:
    return SpecError(f"{where}: expected {expected}, found {found!r}")


def _number(
    raw: dict,
    key: str,
    where: str,
    lo: float,
    hi: float,
    default: float | None = None,
    required: bool = False,
) -> float | None:
    """``raw[key]`` checked to lie in [lo, hi]; null or absent gives ``default``
    (an error when ``required``)."""
    value = raw.get(key)
    if value is None:
        if required:
            raise _fail(f"{where}{key}", f"a number in [{lo}, {hi}]", value)
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(f"{where}{key}", f"a number in [{lo}, {hi}]", value)
    if not lo <= value <= hi:
        raise _fail(f"{where}{key}", f"a number in [{lo}, {hi}]", value)
    return float(value)


def _integer(
    raw: dict,
    key: str,
    lo: int,
    default: int | None = None,
    where: str = "",
    required: bool = False,
) -> int | None:
    """``raw[key]`` as an integer >= lo; null or absent gives ``default``
    (an error when ``required``)."""
    value = raw.get(key)
    if value is None:
        if required:
            raise _fail(f"{where}{key}", f"an integer >= {lo}", value)
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise _fail(f"{where}{key}", f"an integer >= {lo}", value)
    return value


def _mapping(raw: dict, key: str) -> dict:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise _fail(key, "a mapping", value)
    return value


def _unknown(raw: dict, allowed: set[str], where: str) -> None:
    extra = sorted(set(raw) - allowed)
    if extra:
        raise SpecError(f"{where}: unknown key(s) {extra}; expected some of {sorted(allowed)}")


WITHIN_COMBINED = "combined"


def _within_min(div: dict) -> float | dict[str, float] | None:
    value = div.get("within_min")
    if not isinstance(value, dict):
        return _number(div, "within_min", "diversity.", 1.0, 1e6)
    allowed = [*TASK_TYPES, WITHIN_COMBINED]
    for key in value:
        if key not in allowed:
            raise _fail("diversity.within_min", f"keys among {allowed}", key)
    return {
        str(k): _number(value, k, "diversity.within_min.", 1.0, 1e6, required=True)
        for k in sorted(value)
    }


def _diversity(raw: dict) -> Diversity:
    div = _mapping(raw, "diversity")
    keys = {f.name for f in dataclasses.fields(Diversity)}
    _unknown(div, keys, "diversity")
    hill = keys - {"within_min", "within_sample"}
    values = {k: _number(div, k, "diversity.", 1.0, 1e6) for k in hill}
    result = Diversity(
        **values,
        within_min=_within_min(div),
        within_sample=_integer(div, "within_sample", 2, 1000, where="diversity."),
    )
    for lo, hi in (("d0_min", "d0_max"), ("d2_min", "d2_max")):
        a, b = getattr(result, lo), getattr(result, hi)
        if a is not None and b is not None and a > b:
            raise SpecError(f"diversity: {lo} ({a}) is above {hi} ({b})")
    return result


def _tasks(raw: dict) -> dict[str, TaskBounds]:
    tasks = {}
    for task, bounds in sorted(_mapping(raw, "tasks").items(), key=lambda kv: str(kv[0])):
        if task not in TASK_TYPES:
            raise _fail("tasks", f"task types among {list(TASK_TYPES)}", task)
        if not isinstance(bounds, dict):
            raise _fail(f"tasks.{task}", "a mapping with min and/or max", bounds)
        _unknown(bounds, {"min", "max"}, f"tasks.{task}")
        lo = _number(bounds, "min", f"tasks.{task}.", 0.0, 1.0, 0.0)
        hi = _number(bounds, "max", f"tasks.{task}.", 0.0, 1.0, 1.0)
        if lo > hi:
            raise SpecError(f"tasks.{task}: min ({lo}) is above max ({hi})")
        tasks[str(task)] = TaskBounds(lo, hi)
    if sum(b.min for b in tasks.values()) > 1 + 1e-12:
        raise SpecError("tasks: the min shares add up to more than 1")
    return tasks


def _shard(raw: dict) -> tuple[int | None, int | None]:
    shard = _mapping(raw, "shard")
    if not shard:
        return None, MixSpec.shard_bytes
    _unknown(shard, {"rows", "bytes", "mb"}, "shard")
    if len(shard) != 1:
        raise _fail("shard", "exactly one of rows: N, bytes: N or mb: N", shard)
    if "rows" in shard:
        return _integer(shard, "rows", 1, where="shard.", required=True), None
    if "bytes" in shard:
        return None, _integer(shard, "bytes", 1, where="shard.", required=True)
    mb = _number(shard, "mb", "shard.", 1e-6, 1e9, required=True)
    return None, max(1, int(mb * 2**20))


def _labels(raw: dict) -> tuple[dict[str, str], float | None]:
    """The label columns and ``min_confidence`` (None when absent)."""
    labels = dict(DEFAULT_LABELS)
    given = dict(_mapping(raw, "labels"))
    _unknown(given, {*DEFAULT_LABELS, MIN_CONFIDENCE}, "labels")
    confidence = given.pop(MIN_CONFIDENCE, None)
    for key, column in given.items():
        if not isinstance(column, str) or not column:
            raise _fail(f"labels.{key}", "a column name", column)
        labels[key] = column
    if confidence is None:
        return labels, None
    where = f"labels.{MIN_CONFIDENCE}"
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise _fail(where, "a number in (0, 1)", confidence)
    if not 0 < confidence < 1:
        raise _fail(where, "a number in (0, 1)", confidence)
    if labels != DEFAULT_LABELS:
        # A corpus's own labels come without probabilities to compare with.
        raise _fail(
            where,
            "labels on the classifier's columns content_type and task_type, whose "
            f"probabilities {'/'.join(PROBABILITY_COLUMNS)} it compares",
            f"columns {labels['content_type']}, {labels['task_type']}",
        )
    return labels, float(confidence)


def _decontaminate(raw: dict) -> Decontaminate | None:
    value = raw.get("decontaminate")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _fail(
            "decontaminate",
            f"a mapping {{benchmarks: [NAME, ...] | {ALL_BENCHMARKS}, max_matched_ngrams: N}}",
            value,
        )
    _unknown(value, {"benchmarks", "max_matched_ngrams"}, "decontaminate")
    benchmarks = value.get("benchmarks", ALL_BENCHMARKS)
    if benchmarks != ALL_BENCHMARKS:
        names = benchmarks if isinstance(benchmarks, list) else None
        if names is None or not all(isinstance(b, str) and b for b in names):
            raise _fail(
                "decontaminate.benchmarks",
                f"{ALL_BENCHMARKS!r} or a list of benchmark names ([] excludes nothing)",
                benchmarks,
            )
        if len(set(names)) != len(names):
            raise _fail("decontaminate.benchmarks", "distinct benchmark names", benchmarks)
        benchmarks = tuple(sorted(names))
    limit = _integer(value, "max_matched_ngrams", 0, 0, where="decontaminate.")
    return Decontaminate(benchmarks, limit)


def _string(raw: dict, key: str, required: bool = False) -> str | None:
    value = raw.get(key)
    if (value is None and required) or (
        value is not None and (not isinstance(value, str) or not value)
    ):
        raise _fail(key, "a non-empty string", value)
    return value


def _path(raw: dict, key: str, base: str | os.PathLike, required: bool = False) -> str | None:
    """An absolute, normalised path (relative ones are taken from ``base``), or a URL as is."""
    value = _string(raw, key, required)
    if value is None or is_url(value):
        return value
    return os.path.abspath(Path(base) / value)


def _storage_options(raw: dict) -> dict[str, Any]:
    value = raw.get("storage_options", {})
    if not isinstance(value, dict):
        raise SpecError(
            f"storage_options: expected a mapping of fsspec options, found {type(value).__name__}"
        )
    return value


def parse_spec(raw: object, base: str | os.PathLike = ".") -> MixSpec:
    """Validate a spec mapping; relative ``corpus`` and ``tokenizer`` paths are taken
    from ``base`` and stored absolute, so the spec means the same from any folder."""
    if not isinstance(raw, dict):
        raise _fail("spec", "a YAML mapping", type(raw).__name__)
    _unknown(raw, _TOP_KEYS, "spec")
    for key in ("name", "corpus", "tokens", "procedural_share"):
        if key not in raw:
            raise SpecError(f"{key}: required, missing")
    order = raw.get("order", "shuffled")
    if order not in ORDERS:
        raise _fail("order", " or ".join(ORDERS), order)
    noise = raw.get("noise_correction", False)
    if not isinstance(noise, bool):
        raise _fail("noise_correction", "true or false", noise)
    shard_rows, shard_bytes = _shard(raw)
    labels, min_confidence = _labels(raw)
    return MixSpec(
        name=_string(raw, "name", required=True),
        corpus=_path(raw, "corpus", base, required=True),
        tokens=_integer(raw, "tokens", 1, required=True),
        procedural_share=_number(raw, "procedural_share", "", 0.0, 1.0, required=True),
        diversity=_diversity(raw),
        tasks=_tasks(raw),
        max_epochs=_integer(raw, "max_epochs", 1, 1),
        source_tolerance=_number(raw, "source_tolerance", "", 0.0, 1.0, 0.01),
        seed=_integer(raw, "seed", 0, 0),
        shard_rows=shard_rows,
        shard_bytes=shard_bytes,
        tokenizer=_path(raw, "tokenizer", base),
        order=order,
        noise_correction=noise,
        labels=labels,
        min_confidence=min_confidence,
        decontaminate=_decontaminate(raw),
        storage_options=_storage_options(raw),
    )


def load_spec(
    path: str | os.PathLike, corpus: str | None = None, storage_options: dict | None = None
) -> MixSpec:
    """Read a YAML spec; its relative paths are taken from the spec file's folder.
    ``corpus`` (relative to the working directory, or a URL) overrides the spec's corpus
    folder, ``storage_options`` are merged over the spec's."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as e:
        raise SpecError(f"spec file not found: {path}") from e
    except yaml.YAMLError as e:
        raise SpecError(f"{path}: not valid YAML: {e}") from e
    if isinstance(raw, dict) and corpus is not None:
        raw = {**raw, "corpus": corpus if is_url(corpus) else os.path.abspath(corpus)}
    spec = parse_spec(raw, Path(path).parent)
    if storage_options:
        spec = dataclasses.replace(
            spec, storage_options={**spec.storage_options, **storage_options}
        )
    return spec
