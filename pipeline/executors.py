"""Run a list of datatrove steps as ``tasks`` ranks, locally or on a Dask cluster.

Both executors are datatrove ``PipelineExecutor``s: a rank's steps are chained
as datatrove chains them, per-rank stats land in ``<logging_dir>/stats`` and
completion markers in ``<logging_dir>/completions``, so a rerun skips finished
ranks (resume). They differ from datatrove's local executor in cost, not in
behaviour: datatrove adds and removes loguru sinks around every rank (~70 ms
each, more than a small rank's work) and starts a Manager and a fresh pool per
run; here a rank's log file is written only when it fails, and worker
processes fork from a server that has already imported procmix.

A run folder on object storage (``out`` a ``Location`` with a URL) is never
written in place: each rank works in its own local scratch folder, fetching
the files its steps declare (``needs(rank, world_size)``, paths relative to
the run folder), and uploads every file it wrote once all its steps have
finished, then its stats, then its completion marker. A worker killed part
way leaves no marker, so the rerun redoes the rank and overwrites the same
keys with the same bytes. Workers share nothing but the bucket.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from datatrove.executor.base import DistributedEnvVars, PipelineExecutor
from datatrove.utils.stats import PipelineStats

from pipeline import WORKER_PRELOAD
from procmix_core.forkserver import worker_context
from procmix_core.storage import Location, fetch, local_files, push, redact


class RankExecutor(PipelineExecutor):
    """What both executors share: how one rank runs.

    ``out`` is the run folder the steps read and write (their ``out``);
    ``logging_dir`` a folder under it, both local or both remote.
    """

    def __init__(self, pipeline: list, tasks: int, logging_dir: Location, out: Location):
        super().__init__(pipeline, logging_dir.datafolder(), skip_completed=True)
        self.tasks = tasks
        self.logs = logging_dir
        self.out = out
        # A remote run's shared download folder for one stage, when its ranks share a host.
        self.cache: Path | None = None

    def __getstate__(self) -> dict:
        # Workers rebuild the logging DataFolder from its Location: no filesystem is pickled.
        return {k: v for k, v in self.__dict__.items() if k != "logging_dir"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.logging_dir = self.logs.datafolder()

    @property
    def world_size(self) -> int:
        return self.tasks

    def get_distributed_env(self, node_rank: int = -1) -> DistributedEnvVars:
        return DistributedEnvVars(
            datatrove_node_ips="localhost",
            datatrove_cpus_per_task="1",
            datatrove_mem_per_cpu="-1",
            datatrove_gpus_on_node="0",
            datatrove_executor=type(self).__name__,
        )

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1) -> PipelineStats:
        if self.is_rank_completed(rank):
            return PipelineStats()
        # Fresh steps per rank: a step's stats must count this rank only, also when
        # ranks run one after another in this process.
        pipeline = copy.deepcopy(self.pipeline)
        scratch = None
        if self.out.remote:
            scratch = Path(tempfile.mkdtemp(prefix=f"procmix-rank{rank:05d}-"))
        try:
            if scratch is not None:
                needed = [n for step in pipeline for n in step.needs(rank, self.world_size)]
                fetch(self.out, needed, scratch, self.cache)
                for step in pipeline:
                    step.out = str(scratch)
            data = None
            for step in pipeline:
                if callable(step):
                    data = step(data, rank, self.world_size)
                elif isinstance(step, Sequence) and not isinstance(step, str):
                    data = step
                else:
                    raise TypeError(f"not a pipeline step: {step!r}")
            if data:
                deque(data, maxlen=0)
            if scratch is not None:
                push(scratch, sorted(set(local_files(scratch)) - set(needed)), self.out)
        except BaseException:
            with self.logging_dir.open(f"logs/task_{rank:05d}.log", "w") as log:
                log.write(redact(traceback.format_exc(), self.out.options))
            raise
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
        stats = PipelineStats(pipeline)
        with self.logging_dir.open(f"stats/{rank:05d}.json", "w") as f:
            stats.save_to_disk(f)
        self.mark_rank_as_completed(rank)
        return stats

    def _merge(self, stats: list[PipelineStats]) -> PipelineStats:
        merged = sum(stats, start=PipelineStats())
        with self.logging_dir.open("stats.json", "wt") as f:
            merged.save_to_disk(f)
        return merged


class LocalExecutor(RankExecutor):
    """Ranks on a local process pool of ``workers`` (in this process when 1).

    With a pool, even a single-rank stage runs in a worker: what it allocates
    is returned to the system when the pool closes, not kept by the driver.
    """

    def __init__(
        self, pipeline: list, tasks: int, workers: int, logging_dir: Location, out: Location
    ):
        super().__init__(pipeline, tasks, logging_dir, out)
        self.workers = max(1, workers)

    def run(self) -> PipelineStats:
        if not self.out.remote:
            return self._run_ranks(self.get_incomplete_ranks())
        # All ranks run on this host: what several of them fetch is downloaded once.
        cache = Path(tempfile.mkdtemp(prefix="procmix-stage-cache-"))
        try:
            self.cache = cache
            return self._run_ranks(self.get_incomplete_ranks())
        finally:
            self.cache = None
            shutil.rmtree(cache, ignore_errors=True)

    def _run_ranks(self, ranks: list[int]) -> PipelineStats:
        if self.workers == 1:
            return self._merge([self._run_for_rank(rank) for rank in ranks])
        with ProcessPoolExecutor(
            min(self.workers, len(ranks) or 1),
            mp_context=worker_context(WORKER_PRELOAD),
            # Workers fork from the fork server, whose environment is the one it started
            # with: give them the driver's as it is now (AWS_* credentials, endpoint).
            initializer=_adopt_environment,
            initargs=(dict(os.environ),),
        ) as pool:
            futures = [pool.submit(self._run_for_rank, rank) for rank in ranks]
            return self._merge([future.result() for future in as_completed(futures)])


def _adopt_environment(environment: dict[str, str]) -> None:
    os.environ.clear()
    os.environ.update(environment)


class DaskExecutor(RankExecutor):
    """Each rank one task on the dask.distributed scheduler at ``scheduler``."""

    def __init__(
        self, pipeline: list, tasks: int, scheduler: str, logging_dir: Location, out: Location
    ):
        super().__init__(pipeline, tasks, logging_dir, out)
        self.scheduler = scheduler

    def run(self) -> PipelineStats:
        from dask.distributed import Client

        ranks = self.get_incomplete_ranks()
        if not ranks:
            return PipelineStats()
        with Client(self.scheduler) as client:
            futures = client.map(self._run_for_rank, ranks, pure=False)
            return self._merge(client.gather(futures))


def make_executor(
    kind: str,
    pipeline: list[Callable],
    tasks: int,
    workers: int,
    logging_dir: Location,
    out: Location,
    scheduler: str | None = None,
) -> RankExecutor:
    """``local`` (process pool) or ``dask`` (``scheduler`` is the cluster address)."""
    if kind == "local":
        return LocalExecutor(pipeline, tasks, workers, logging_dir, out)
    if kind == "dask":
        if not scheduler:
            raise ValueError("the dask executor needs a scheduler address")
        return DaskExecutor(pipeline, tasks, scheduler, logging_dir, out)
    raise ValueError(f"unknown executor {kind!r}: expected 'local' or 'dask'")
