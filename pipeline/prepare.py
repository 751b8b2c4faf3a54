"""``procmix prepare``: read, validate, near-dedup and write a corpus folder.

Four stages, each a datatrove pipeline run as ranks by the chosen executor:

1. ``INGEST``   — one rank per input file: ReadAndValidate → IngestWriter
2. ``BUCKETS``  — one rank per (band, partition): LshBuckets
3. ``CLUSTERS`` — one rank: NearDuplicateClusters
4. ``FINALIZE`` — one rank per input file: WriteOutputs

Ranks are fixed by the input (never by the worker count), documents are
numbered in input-file order, and every choice is made from those numbers,
so output files are identical whatever executor or number of workers ran
them. Completion markers under ``_logs`` make a rerun resume where a killed
run stopped.

An ``s3://`` (or other URL) ``-o`` is filled through local scratch folders:
each rank uploads what it wrote (``pipeline.executors``), the driver works in
a ``Workspace`` of its own, fetching the few intermediates it reads and
uploading what it writes, summary.json last.
"""

from __future__ import annotations

import glob
import json
import posixpath
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from datatrove.pipeline.base import PipelineStep
from loguru import logger

from classifiers.tagging import models_summary
from pipeline.decont.corpus import install_index, summary_entry
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
from pipeline.stats import build_stats_db, fate_counts
from procmix_core import __version__
from procmix_core.decont_match import (
    CORPUS_INDEX_DIR,
    DecontIndex,
    DecontIndexError,
    load_index,
    tally_files,
)
from procmix_core.layout import RUN_FILE, SUMMARY_FILE
from procmix_core.output import FolderInUse, claim_output_folder
from procmix_core.readers import DEFAULT_MAX_CHARS, INPUT_SUFFIXES
from procmix_core.storage import Location, Workspace, is_url, local_files, workspace

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
    # fsspec options for URL inputs and output (credentials, endpoint); never written anywhere.
    storage_options: dict = field(default_factory=dict)
    # Local index folder to check kept documents against (``procmix decont index``), or None.
    decont: str | None = None


def _local_inputs(pattern: str) -> list[Location]:
    found: set[Path] = set()
    matches = [Path(pattern)] if Path(pattern).exists() else map(Path, glob.glob(pattern))
    for match in matches:
        if match.is_dir():
            found.update(
                p for p in match.rglob("*") if p.is_file() and p.name.endswith(INPUT_SUFFIXES)
            )
        elif match.is_file():
            found.add(match)
    return [Location.of(p.resolve()) for p in found]


def _remote_inputs(pattern: str, options: dict) -> list[Location]:
    where = Location.of(pattern, options)
    where.check()
    fs, protocol = where.fs, pattern.split("://", 1)[0]
    if fs.isdir(where.path):
        paths = [p for p in fs.find(where.path) if p.endswith(INPUT_SUFFIXES)]
    else:
        paths = fs.glob(where.path) if glob.has_magic(where.path) else [where.path]
        paths = [p for p in paths if fs.isfile(p)]
    return [Location.of(f"{protocol}://{p}", options) for p in paths]


def resolve_inputs(patterns: list[str], options: dict | None = None) -> list[Location]:
    """Files named by ``patterns`` (files, folders searched recursively, or globs; local
    paths or URLs), sorted by full path."""
    found = {
        f
        for pattern in patterns
        for f in (
            _remote_inputs(pattern, options or {}) if is_url(pattern) else _local_inputs(pattern)
        )
    }
    return sorted(found, key=lambda f: f.url)


def input_names(files: list[Location]) -> list[str]:
    """Each file's path relative to the deepest folder holding them all."""
    paths = [f.path if f.remote else f.url for f in files]
    try:
        root = posixpath.commonpath([posixpath.dirname(p) for p in paths])
    except ValueError:
        raise PrepareError("inputs must be all local files or all on one object store") from None
    return [posixpath.relpath(p, root) for p in paths]


def _fingerprint(
    config: PrepareConfig, files: list[Location], names: list[str], decont_digest: str | None
) -> dict:
    """What determines the output: a rerun with the same fingerprint resumes."""
    return {
        "procmix": __version__,
        "inputs": [{"name": n, "bytes": f.size()} for n, f in zip(names, files, strict=True)],
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
    stage: str,
    tasks: int,
    completions: Location,
    log: Callable[[str], None],
    done: threading.Event,
) -> None:
    started = time.monotonic()
    last = -1
    while not done.wait(PROGRESS_EVERY_S):
        finished = len(completions.files())
        if finished != last:
            log(f"  {stage}: {finished}/{tasks} tasks done ({time.monotonic() - started:.0f} s)")
            last = finished


def _quiet_datatrove() -> None:
    """Keep library INFO logs off the terminal: procmix prints its own progress lines."""
    logger.remove()
    logger.add(sys.stderr, level="WARNING")


def _step_seconds(logs: Path, step: type[PipelineStep]) -> float:
    """Wall seconds a step spent across all ranks, from datatrove's per-rank stats."""
    # datatrove names a step's stats by its repr, "<type>: <name>".
    name = f"{step.type}: {step.name}"
    total = 0.0
    for path in sorted((logs / "stats").glob("*.json")):
        for entry in json.loads(path.read_text()):
            timing = entry["time_stats"]
            if entry["name"] == name and isinstance(timing, dict):
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


# The stages, in order; each name is its folder under _logs and its key in summary["stages"].
INGEST, BUCKETS, CLUSTERS, FINALIZE = "ingest", "buckets", "clusters", "finalize"
LOGS = Layout.names().logs.name
# The per-rank ingest reports the driver reads after ingest.
_REPORTS = (Layout.names().ingest_report, Layout.names().read_report)
# The steps whose time is the run's dedup time (signatures, buckets, clusters).
DEDUP_STEPS = ((INGEST, IngestWriter), (BUCKETS, LshBuckets), (CLUSTERS, NearDuplicateClusters))


@dataclass
class Stage:
    """One stage: a datatrove pipeline run as ``tasks`` ranks."""

    name: str
    pipeline: list[PipelineStep]
    tasks: int


class StageRunner:
    """Runs stages with the run's executor, logging progress; ``seconds`` per stage name.

    ``space`` is the driver's view of the run folder: ``space.remote`` is where
    ranks read and write, ``space.local`` where the driver reads what it fetched.
    """

    def __init__(
        self,
        config: PrepareConfig,
        space: Workspace,
        scheduler: str | None,
        log: Callable[[str], None],
    ):
        self.config, self.space, self.scheduler, self.log = config, space, scheduler, log
        self.layout = Layout(space.local)
        self.seconds: dict[str, float] = {}

    def run(self, stage: Stage) -> None:
        """Run every rank of ``stage`` not yet complete; raise if any is missing after."""
        started = time.perf_counter()
        out = self.space.remote
        logs = out.join(LOGS, stage.name)
        done = threading.Event()
        watcher = threading.Thread(
            target=_watch_progress,
            args=(stage.name, stage.tasks, logs.join("completions"), self.log, done),
            daemon=True,
        )
        watcher.start()
        try:
            make_executor(
                self.config.executor,
                stage.pipeline,
                stage.tasks,
                self.config.workers,
                logs,
                out,
                self.scheduler,
            ).run()
        finally:
            done.set()
            watcher.join()
        _check_complete(stage.name, logs, stage.tasks)
        self.seconds[stage.name] = round(time.perf_counter() - started, 3)
        self.log(f"  {stage.name}: {stage.tasks} tasks, {self.seconds[stage.name]:.1f} s")


def _run_stages(
    runner: StageRunner, files: list[Location], names: list[str], index: DecontIndex | None
) -> None:
    """ingest -> buckets -> clusters -> finalize, one input file per ingest/finalize rank;
    with ``index``, the corpus carries a copy (``decont-index/``) finalize checks against."""
    config, layout, space = runner.config, runner.layout, runner.space
    out, params, ranks = space.remote.url, config.dedup, len(files)
    reader = ReadAndValidate(files, names, out, config.text_key, config.id_key, config.max_chars)
    runner.run(Stage(INGEST, [reader, IngestWriter(out, params)], ranks))
    space.fetch(str(report(r)) for r in range(ranks) for report in _REPORTS)
    layout.write_doc_offsets(ranks)
    space.publish([str(Layout.names().doc_offsets_file)])
    bucket_tasks = (params.bands + 1) * params.bucket_partitions
    runner.run(Stage(BUCKETS, [LshBuckets(out, ranks, params)], bucket_tasks))
    runner.run(Stage(CLUSTERS, [NearDuplicateClusters(out, ranks, params)], 1))
    extra_types = extra_column_types(
        [layout.read_ingest_report(r)["extra_types"] for r in range(ranks)]
    )
    decont = None
    if index is not None:
        # The copy in the run folder (the scratch one for object storage): finalize ranks
        # read it from this host's disk, so a remote run with --decont needs workers here.
        installed = install_index(index, space.local)
        decont = str(installed.path)
        space.publish(
            f"{CORPUS_INDEX_DIR}/{name}" for name in local_files(space.local / CORPUS_INDEX_DIR)
        )
    finalize = WriteOutputs(out, ranks, extra_types, tag=config.tag, decont=decont)
    runner.run(Stage(FINALIZE, [finalize], ranks))


def prepare(config: PrepareConfig, log: Callable[[str], None] | None = None) -> dict:
    """Run (or resume) prepare; return the summary that is also written to summary.json."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    out = Location.of(config.out, config.storage_options)
    out.check()
    files = resolve_inputs(config.inputs, config.storage_options)
    if not files:
        raise PrepareError(
            f"no input files matched {' '.join(config.inputs)}: give JSONL (.jsonl, .jsonl.gz, "
            ".jsonl.zst) or Parquet files, folders holding them, or globs"
        )
    names = input_names(files)
    try:
        index = load_index(config.decont) if config.decont else None
    except DecontIndexError as e:
        raise PrepareError(f"--decont: {e}") from e
    fingerprint = _fingerprint(config, files, names, index.digest if index else None)
    _claim_output(out, fingerprint, config.overwrite)
    summary_file = out.join(SUMMARY_FILE)
    if summary_file.exists():
        log(f"{config.out} is already complete for these inputs and settings; nothing to do")
        return json.loads(summary_file.read_text())

    started = time.perf_counter()
    _quiet_datatrove()
    log(
        f"procmix prepare: {len(files)} input files -> {config.out} "
        f"({config.executor} executor, {config.workers} workers)"
    )
    with workspace(out) as space:
        with _scheduler(config) as scheduler:
            runner = StageRunner(config, space, scheduler, log)
            _run_stages(runner, files, names, index)
        build_stats_db(space)
        for stage in (INGEST, BUCKETS, CLUSTERS, FINALIZE):
            space.fetch_folder(f"{LOGS}/{stage}/stats")
        elapsed = time.perf_counter() - started
        summary = _summary(runner.layout, out, config, len(files), runner.seconds, elapsed)
    if not config.keep_work:
        out.join(Layout.names().work.name).remove()
    summary_file.write_json(summary)
    if summary["kept"] == 0:
        raise PrepareError(
            f"no usable document in the input: {summary['quarantined']} records quarantined "
            f"(reasons in {out.join(Layout.names().quarantine.name).url}); check --text-key "
            "and the input format",
            exit_code=1,
        )
    return summary


def _claim_output(out: Location, fingerprint: dict, overwrite: bool) -> None:
    """Make ``out`` ours: new, or a run of the same inputs and settings (resume)."""
    run_config = out.join(RUN_FILE)
    try:
        if run_config.exists() and json.loads(run_config.read_text()) == fingerprint:
            return
        if out.remote:
            _claim_remote(out, run_config, overwrite)
        else:
            # A folder is a prepare run's own when it has a run.json (whatever its settings).
            claim_output_folder(
                out.local_path(), overwrite, owned=lambda folder: (folder / RUN_FILE).exists()
            )
        run_config.write_json(fingerprint)
    except FolderInUse as e:
        if e.kind == "occupied" and e.owned:
            raise PrepareError(
                f"{out.url} holds a prepare run with other inputs or settings; "
                "use another -o folder, or --overwrite to replace it"
            ) from e
        raise PrepareError(
            f"{out.url} exists and is not a procmix prepare output; choose an empty or new -o"
        ) from e
    except OSError as e:
        raise PrepareError(f"cannot write to {out.url}: {e}") from e


def _claim_remote(out: Location, run_config: Location, overwrite: bool) -> None:
    """``claim_output_folder``'s rule on object storage, where a folder is a key prefix."""
    if not out.files():
        return
    owned = run_config.exists()
    if not overwrite:
        raise FolderInUse(Path(out.path), "occupied", owned=owned)
    if not owned:
        raise FolderInUse(Path(out.path), "foreign", owned=False)
    out.remove()


def _check_complete(stage: str, logs: Location, tasks: int) -> None:
    finished = len(logs.join("completions").files())
    if finished < tasks:
        raise PrepareError(
            f"stage {stage}: only {finished}/{tasks} tasks finished; see {logs.url}/logs. "
            "Rerun the same command to resume.",
            exit_code=1,
        )


def _summary(
    layout: Layout,
    out: Location,
    config: PrepareConfig,
    ranks: int,
    stage_seconds: dict,
    elapsed: float,
) -> dict:
    """``layout`` holds the run's reports and stats (fetched when ``out`` is remote)."""
    reads = [entry for r in range(ranks) for entry in json.loads(layout.read_report(r).read_text())]
    ingests = [layout.read_ingest_report(r) for r in range(ranks)]
    counts = fate_counts(out)
    fates = counts["fates"]
    input_bytes = sum(entry["bytes_read"] for entry in reads)
    dedup_seconds = sum(_step_seconds(layout.logs / stage, step) for stage, step in DEDUP_STEPS)
    summary = {
        "procmix": __version__,
        "out": config.out,
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
        tag_seconds = _stat_total(layout.logs / FINALIZE, TAG_MICROSECONDS) / 1e6
        summary["tag_seconds"] = round(tag_seconds, 3)
        summary["tag_mb_per_s_per_core"] = (
            round(input_bytes / 1e6 / tag_seconds, 3) if tag_seconds else None
        )
        summary["classifiers"] = models_summary()
    if config.decont:
        if out.remote:
            # The tally reads the docs' contamination columns; they are on object storage.
            Workspace(out, layout.out).fetch_folder(Layout.names().docs.name)
        summary["decont"] = summary_entry(
            tally_files(layout.docs_files(), load_index(layout.out / CORPUS_INDEX_DIR)),
            config.decont,
            _stat_total(layout.logs / FINALIZE, DECONT_MICROSECONDS) / 1e6,
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
