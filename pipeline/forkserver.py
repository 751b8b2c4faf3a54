"""The fork server local worker processes start from, with procmix already imported.

Importing the pipeline (pyarrow, datatrove, scipy, fastText) costs a process
about a CPU second. The server pays it once per run and every worker forks
from it ready; ``start_early`` launches it before the driver imports the same
modules, so on two or more cores the two imports overlap instead of queueing.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
from multiprocessing.context import BaseContext

PRELOAD = ["pipeline.executors", "pipeline.ingest", "pipeline.dedup", "pipeline.finalize"]


def worker_context() -> BaseContext:
    """The multiprocessing context local workers run in."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def start_early() -> None:
    """Start the fork server now; it imports ``PRELOAD`` while this process goes on."""
    worker_context()
    multiprocessing.forkserver.ensure_running()
