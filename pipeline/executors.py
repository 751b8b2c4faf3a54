"""Run a list of datatrove steps as ``tasks`` ranks, locally or on a Dask cluster.

Both executors are datatrove ``PipelineExecutor``s, so completion markers in
the logging folder make a rerun skip finished ranks (resume), and each rank's
full log lands in ``<logging_dir>/logs``. Task logs go to files only; the
terminal gets procmix's own progress lines.
"""

from __future__ import annotations

import sys

import multiprocess
from datatrove.executor.base import DistributedEnvVars, PipelineExecutor
from datatrove.executor.local import LocalPipelineExecutor
from datatrove.utils.stats import PipelineStats
from loguru import logger

# datatrove prints a rank's log to stderr only when its local_rank is 0.
_QUIET_LOCAL_RANK = 1


# Imported once by the forkserver, so each stage's new worker pool starts in
# milliseconds instead of re-importing pyarrow, datatrove and scipy.
_PRELOAD = ["pipeline.ingest", "pipeline.dedup", "pipeline.finalize"]


class QuietLocalExecutor(LocalPipelineExecutor):
    """datatrove's local multiprocessing executor, logging to files instead of stderr."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        multiprocess.get_context(self.start_method).set_forkserver_preload(_PRELOAD)

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1) -> PipelineStats:
        stats = super()._run_for_rank(rank, local_rank + _QUIET_LOCAL_RANK, node_rank)
        # datatrove restores an INFO stderr logger after each rank; keep progress lines ours.
        logger.remove()
        logger.add(sys.stderr, level="WARNING")
        return stats


class DaskPipelineExecutor(PipelineExecutor):
    """Run each rank as one task on the dask.distributed scheduler at ``scheduler``."""

    def __init__(self, pipeline: list, tasks: int, scheduler: str, logging_dir: str):
        super().__init__(pipeline, logging_dir, skip_completed=True)
        self.tasks = tasks
        self.scheduler = scheduler

    @property
    def world_size(self) -> int:
        return self.tasks

    def get_distributed_env(self, node_rank: int = -1) -> DistributedEnvVars:
        return DistributedEnvVars(
            datatrove_node_ips="localhost",
            datatrove_cpus_per_task="1",
            datatrove_mem_per_cpu="-1",
            datatrove_gpus_on_node="0",
            datatrove_executor="DASK",
        )

    def _run_quietly(self, rank: int) -> PipelineStats:
        return self._run_for_rank(rank, local_rank=_QUIET_LOCAL_RANK)

    def run(self) -> PipelineStats:
        from dask.distributed import Client

        ranks = self.get_incomplete_ranks()
        if not ranks:
            return PipelineStats()
        with Client(self.scheduler) as client:
            futures = client.map(self._run_quietly, ranks, pure=False)
            stats = client.gather(futures)
        return sum(stats, start=PipelineStats())


def make_executor(
    kind: str,
    pipeline: list,
    tasks: int,
    workers: int,
    logging_dir: str,
    scheduler: str | None = None,
) -> PipelineExecutor:
    """``local`` (multiprocessing) or ``dask`` (``scheduler`` is the cluster address)."""
    if kind == "local":
        return QuietLocalExecutor(
            pipeline, tasks=tasks, workers=min(workers, tasks), logging_dir=logging_dir
        )
    if kind == "dask":
        if not scheduler:
            raise ValueError("the dask executor needs a scheduler address")
        return DaskPipelineExecutor(pipeline, tasks, scheduler, logging_dir)
    raise ValueError(f"unknown executor {kind!r}: expected 'local' or 'dask'")
