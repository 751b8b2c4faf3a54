"""The fork server local worker processes start from, with their modules already imported.

Importing the pipeline (pyarrow, datatrove, scipy, fastText) costs a process
about a CPU second. The server pays it once per run and every worker forks
from it ready; ``start_early`` launches it before the driver imports the same
modules, so on two or more cores the two imports overlap instead of queueing.
Each caller names the modules its workers need (``preload``): this package
knows none of them.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
from collections.abc import Sequence
from multiprocessing.context import BaseContext


def worker_context(preload: Sequence[str]) -> BaseContext:
    """The multiprocessing context local workers run in, importing ``preload`` once."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    return context


def start_early(preload: Sequence[str]) -> None:
    """Start the fork server now; it imports ``preload`` while this process goes on."""
    worker_context(preload)
    multiprocessing.forkserver.ensure_running()
