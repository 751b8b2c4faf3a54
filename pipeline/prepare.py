"""``procmix prepare``: read, validate, near-dedup and write a corpus folder.

Four stages, each a datatrove pipeline run as ranks by the chosen executor:

1. ingest    — one rank per input file: ReadAndValidate → IngestWriter
2. buckets   — one rank per (band, partition): LshBuckets
3. clusters  — one rank: NearDuplicateClusters
4. finalize  — one rank per input file: WriteOutputs

Ranks are fixed by the input (never by the worker count), documents are
numbered in input-file order, and every choice is made from those numbers,
so output files are identical whatever executor or number of workers ran
them. Completion markers under ``_logs`` make a rerun resume where a killed
run stopped.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from loguru import logger

from classifiers.model import MODELS_DIR
from classifiers.tagging import models_summary
from pipeline import __version__
from pipeline.atomic import write_json
from pipeline.decont.columns import CORPUS_INDEX_DIR, tally_files
from pipeline.decont.corpus import install_index, summary_entry
from pipeline.decont.index import DecontIndexError, load_index
from pipeline.dedup import LshBuckets, NearDuplicateClusters
from pipeline.executors import make_executor
from pipeline.finalize import (
    DECONT_MICROSECONDS,
    TAG_MICROSECONDS,
    WriteOutputs,
    extra_column_types,
)
from pipeline.ingest import IngestWriter, ReadAndValidate
from pipeline.layout import DedupParams, Layout
from pipeline.readers import INPUT_SUFFIXES
from pipeline.stats import build_stats_db, fate_counts

DEFAULT_MAX_CHARS = 5_000_000
PROGRESS_EVERY_S = 10.0


class PrepareError(Exception):
    """A problem the user must fix; ``exit_code`` is what the CLI returns."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class PrepareConfig:
    inputs: list[str]
    out: str
    workers: int = 2
    executor: str = "local"
    scheduler: str | None = None
    text_key: str = "text"
    id_key: str = "id"
    max_chars: int = DEFAULT_MAX_CHARS
    dedup: DedupParams = field(default_factory=DedupParams)
    keep_work: bool = False
    overwrite: bool = False
    # Tag kept documents with the shipped classifiers (content type, task type).
    tag: bool = True
    # Index folder to check kept documents against (``procmix decont index``), or None.
    decont: str | None = None


def resolve_inputs(patterns: list[str]) -> list[Path]:
    """Files named by ``patterns`` (files, folders searched recursively, or globs), sorted."""
    found: set[Path] = set()
    for pattern in patterns:
        matches = [Path(pattern)] if Path(pattern).exists() else map(Path, glob.glob(pattern))
        for match in matches:
            if match.is_dir():
                found.update(
                    p for p in match.rglob("*") if p.is_file() and p.name.endswith(INPUT_SUFFIXES)
                )
            elif match.is_file():
                found.add(match)
    return sorted(found, key=lambda p: str(p.resolve()))


def input_names(files: list[Path]) -> list[str]:
    """Each file's path relative to the deepest folder holding them all."""
    resolved = [p.resolve() for p in files]
    root = Path(os.path.commonpath([p.parent for p in resolved]))
    return [str(p.relative_to(root)) for p in resolved]


def _fingerprint(
    config: PrepareConfig, files: list[Path], names: list[str], decont_digest: str | None
) -> dict:
    """What determines the output: a rerun with the same fingerprint resumes."""
    return {
        "procmix": __version__,
        "inputs": [
            {"name": n, "bytes": f.stat().st_size} for n, f in zip(names, files, strict=True)
        ],
        "text_key": config.text_key,
        "id_key": config.id_key,
        "max_chars": config.max_chars,
        "dedup": asdict(config.dedup),
        "classifiers": (
            {head: info["sha256"] for head, info in models_summary().items()}
            if config.tag
            else None
        ),
        "decont_index": decont_digest,
    }


@contextmanager
def _scheduler(config: PrepareConfig) -> Iterator[str | None]:
    """The Dask scheduler address to use: the given one, or a LocalCluster's."""
    if config.executor != "dask" or config.scheduler:
        yield config.scheduler
        return
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=config.workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address


def _watch_progress(
    stage: str, tasks: int, completions: Path, log: Callable[[str], None], done: threading.Event
) -> None:
    started = time.monotonic()
    last = -1
    while not done.wait(PROGRESS_EVERY_S):
        finished = len(list(completions.glob("*"))) if completions.exists() else 0
        if finished != last:
            log(f"  {stage}: {finished}/{tasks} tasks done ({time.monotonic() - started:.0f} s)")
            last = finished


def _quiet_datatrove() -> None:
    """Keep library INFO logs off the terminal: procmix prints its own progress lines."""
    logger.remove()
    logger.add(sys.stderr, level="WARNING")


def _step_seconds(logs: Path, step_name: str) -> float:
    """Wall seconds a step spent across all ranks, from datatrove's per-rank stats."""
    total = 0.0
    for path in sorted((logs / "stats").glob("*.json")):
        for step in json.loads(path.read_text()):
            timing = step["time_stats"]
            if step["name"].endswith(step_name) and isinstance(timing, dict):
                total += timing["total"]
    return total


def _stat_total(logs: Path, stat: str) -> float:
    """A counter's total across all ranks' steps, from datatrove's per-rank stats."""
    total = 0.0
    for path in sorted((logs / "stats").glob("*.json")):
        for step in json.loads(path.read_text()):
            value = step["stats"].get(stat)
            if value is not None:
                total += value["total"] if isinstance(value, dict) else value
    return total


def prepare(config: PrepareConfig, log: Callable[[str], None] | None = None) -> dict:
    """Run (or resume) prepare; return the summary that is also written to summary.json."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    files = resolve_inputs(config.inputs)
    if not files:
        raise PrepareError(
            f"no input files matched {' '.join(config.inputs)}: give JSONL (.jsonl, .jsonl.gz, "
            ".jsonl.zst) or Parquet files, folders holding them, or globs"
        )
    names = input_names(files)
    layout = Layout(Path(config.out))
    try:
        index = load_index(config.decont) if config.decont else None
    except DecontIndexError as e:
        raise PrepareError(f"--decont: {e}") from e
    fingerprint = _fingerprint(config, files, names, index.digest if index else None)
    _claim_output(layout, fingerprint, config.overwrite)
    if layout.summary.exists():
        log(f"{layout.out} is already complete for these inputs and settings; nothing to do")
        return json.loads(layout.summary.read_text())

    started = time.perf_counter()
    _quiet_datatrove()
    stage_seconds: dict[str, float] = {}
    ingest_ranks = len(files)
    params = config.dedup
    out = str(layout.out)
    log(
        f"procmix prepare: {len(files)} input files -> {layout.out} "
        f"({config.executor} executor, {config.workers} workers)"
    )
    with _scheduler(config) as scheduler:

        def run_stage(stage: str, pipeline: list, tasks: int) -> None:
            stage_start = time.perf_counter()
            logs = layout.logs / stage
            done = threading.Event()
            watcher = threading.Thread(
                target=_watch_progress,
                args=(stage, tasks, logs / "completions", log, done),
                daemon=True,
            )
            watcher.start()
            try:
                make_executor(
                    config.executor, pipeline, tasks, config.workers, str(logs), scheduler
                ).run()
            finally:
                done.set()
                watcher.join()
            _check_complete(stage, logs, tasks)
            stage_seconds[stage] = round(time.perf_counter() - stage_start, 3)
            log(f"  {stage}: {tasks} tasks, {stage_seconds[stage]:.1f} s")

        run_stage(
            "ingest",
            [
                ReadAndValidate(
                    [str(f) for f in files],
                    names,
                    out,
                    config.text_key,
                    config.id_key,
                    config.max_chars,
                ),
                IngestWriter(out, params),
            ],
            ingest_ranks,
        )
        layout.write_doc_offsets(ingest_ranks)
        run_stage(
            "buckets",
            [LshBuckets(out, ingest_ranks, params)],
            (params.bands + 1) * params.bucket_partitions,
        )
        run_stage("clusters", [NearDuplicateClusters(out, ingest_ranks, params)], 1)
        extra_types = extra_column_types(
            [layout.read_ingest_report(r)["extra_types"] for r in range(ingest_ranks)]
        )
        models = str(MODELS_DIR) if config.tag else None
        decont = str(install_index(index, layout.out).path) if index else None
        run_stage(
            "finalize",
            [WriteOutputs(out, ingest_ranks, extra_types, models, decont)],
            ingest_ranks,
        )

    build_stats_db(layout.out)
    summary = _summary(layout, config, ingest_ranks, stage_seconds, time.perf_counter() - started)
    if not config.keep_work:
        shutil.rmtree(layout.work, ignore_errors=True)
    write_json(layout.summary, summary)
    if summary["kept"] == 0:
        raise PrepareError(
            f"no usable document in the input: {summary['quarantined']} records quarantined "
            f"(reasons in {layout.quarantine}); check --text-key and the input format",
            exit_code=1,
        )
    return summary


def _claim_output(layout: Layout, fingerprint: dict, overwrite: bool) -> None:
    """Make ``out`` ours: new, or a run of the same inputs and settings (resume)."""
    if layout.run_config.exists():
        previous = json.loads(layout.run_config.read_text())
        if previous == fingerprint:
            return
        if not overwrite:
            raise PrepareError(
                f"{layout.out} holds a prepare run with other inputs or settings; "
                "use another -o folder, or --overwrite to replace it"
            )
        shutil.rmtree(layout.out)
    elif layout.out.exists() and any(layout.out.iterdir()):
        raise PrepareError(
            f"{layout.out} exists and is not a procmix prepare output; choose an empty or new -o"
        )
    try:
        layout.out.mkdir(parents=True, exist_ok=True)
        write_json(layout.run_config, fingerprint)
    except OSError as e:
        raise PrepareError(f"cannot write to {layout.out}: {e}") from e


def _check_complete(stage: str, logs: Path, tasks: int) -> None:
    finished = len(list((logs / "completions").glob("*")))
    if finished < tasks:
        raise PrepareError(
            f"stage {stage}: only {finished}/{tasks} tasks finished; see {logs}/logs. "
            "Rerun the same command to resume.",
            exit_code=1,
        )


def _summary(
    layout: Layout, config: PrepareConfig, ranks: int, stage_seconds: dict, elapsed: float
) -> dict:
    reads = [entry for r in range(ranks) for entry in json.loads(layout.read_report(r).read_text())]
    ingests = [layout.read_ingest_report(r) for r in range(ranks)]
    counts = fate_counts(layout.out)
    fates = counts["fates"]
    input_bytes = sum(entry["bytes_read"] for entry in reads)
    dedup_seconds = (
        _step_seconds(layout.logs / "ingest", "dedup keys + ingest writer")
        + _step_seconds(layout.logs / "buckets", "lsh buckets")
        + _step_seconds(layout.logs / "clusters", "near-duplicate clusters")
    )
    summary = {
        "procmix": __version__,
        "out": str(layout.out),
        "files": len(reads),
        "file_warnings": {e["name"]: e["warnings"] for e in reads if e["warnings"]},
        "blank_lines": sum(e["blank_lines"] for e in reads),
        "documents_in": sum(fates.values()),
        "kept": fates.get("kept", 0),
        "exact_duplicates": fates.get("exact_duplicate", 0),
        "near_duplicates": fates.get("near_duplicate", 0),
        "quarantined": fates.get("quarantined", 0),
        "quarantined_by_reason": dict(sorted(counts["quarantined_by_reason"].items())),
        "input_mb": round(input_bytes / 1e6, 3),
        "text_mb": round(sum(i["text_bytes"] for i in ingests) / 1e6, 3),
        "elapsed_s": round(elapsed, 3),
        "mb_per_s": round(input_bytes / 1e6 / elapsed, 3) if elapsed else None,
        "stages": stage_seconds,
        "dedup_seconds": round(dedup_seconds, 3),
        "executor": config.executor,
        "workers": config.workers,
        "dedup": asdict(config.dedup),
    }
    if config.tag:
        tag_seconds = _stat_total(layout.logs / "finalize", TAG_MICROSECONDS) / 1e6
        summary["tag_seconds"] = round(tag_seconds, 3)
        summary["tag_mb_per_s_per_core"] = (
            round(input_bytes / 1e6 / tag_seconds, 3) if tag_seconds else None
        )
        summary["classifiers"] = models_summary()
    if config.decont:
        files = sorted(layout.docs.glob("*.parquet"))
        summary["decont"] = summary_entry(
            tally_files(files, load_index(layout.out / CORPUS_INDEX_DIR)),
            config.decont,
            _stat_total(layout.logs / "finalize", DECONT_MICROSECONDS) / 1e6,
        )
    return summary


def format_summary(summary: dict) -> str:
    """The human-readable run summary."""
    lines = [
        f"documents in      {summary['documents_in']:>12,}",
        f"kept              {summary['kept']:>12,}",
        f"exact duplicates  {summary['exact_duplicates']:>12,}",
        f"near duplicates   {summary['near_duplicates']:>12,}",
        f"quarantined       {summary['quarantined']:>12,}",
    ]
    for reason, n in summary["quarantined_by_reason"].items():
        lines.append(f"  {reason:<26}{n:>6,}")
    lines.append(
        f"input             {summary['input_mb']:>12,.1f} MB in {summary['elapsed_s']:.1f} s "
        f"({summary['mb_per_s']:.1f} MB/s)"
    )
    for name, warnings in summary["file_warnings"].items():
        for warning in warnings:
            lines.append(f"warning: {name}: {warning}")
    if "decont" in summary:
        from pipeline.decont.cli import format_benchmarks

        decont = summary["decont"]
        lines.append(f"contamination (index {decont['index_digest'][:16]}, {decont['index']}):")
        lines.append(format_benchmarks(decont["benchmarks"]))
    lines.append(f"outputs in {summary['out']}: docs/ ledger/ quarantine/ stats.duckdb")
    return "\n".join(lines)
