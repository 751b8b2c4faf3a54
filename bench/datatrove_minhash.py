"""Run datatrove's stock 4-stage MinHash deduplication on a folder of ``.jsonl.gz`` files.

The stages are the ones of datatrove's ``examples/minhash_deduplication.py``,
with datatrove's default ``MinhashConfig`` (word 5-grams, 14 buckets x 8
hashes, 64-bit xxhash), each run by a ``LocalPipelineExecutor``:

1. signatures: ``JsonlReader`` -> ``MinhashDedupSignature``; one task per input file;
2. buckets: ``MinhashDedupBuckets``; one task per bucket;
3. clusters: ``MinhashDedupCluster``; one task (datatrove requires it);
4. filter: ``JsonlReader`` -> ``MinhashDedupFilter`` -> ``JsonlWriter``; one task per
   input file, removed documents go to an exclusion ``JsonlWriter``.

The cluster stage also saves cluster ids (``save_cluster_id=True``, a few
bytes per duplicate), read after the run to match every removed document to
the kept document of its cluster. Stages run one after another and are timed
separately (wall seconds). Every run uses fresh folders, since
datatrove skips tasks whose completion markers it finds.

Run as a script it prints (or writes, with ``--json``) the result of
:func:`run_datatrove_minhash`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

GLOB = "*.jsonl.gz"


def _clusters(
    remove_dir: Path, input_dir: str | Path, tasks: int
) -> tuple[dict[str, int], set[str]]:
    """Datatrove's clusters by document id: ``({id: cluster id}, {removed ids})``.

    The cluster stage writes, per input file (task rank), ``<rank>.clusters``
    ((document index, cluster id) pairs for every document in a cluster) and
    ``<rank>.remove`` (indices of the removed documents). Indices count the
    documents the reader yields, so the same reader maps them back to ids.
    """
    cluster_of: dict[str, int] = {}
    removed: set[str] = set()
    for path in sorted(remove_dir.glob("*.clusters")):
        rank = int(path.stem)
        pairs = np.fromfile(path, dtype="<u4").reshape(-1, 2)
        wanted = dict(zip(pairs[:, 0].tolist(), pairs[:, 1].tolist(), strict=True))
        remove_path = remove_dir / f"{rank:06d}.remove"
        dropped = (
            set(np.fromfile(remove_path, dtype="<u4").tolist()) if remove_path.exists() else set()
        )
        docs = JsonlReader(str(input_dir), glob_pattern=GLOB).run(rank=rank, world_size=tasks)
        for index, doc in enumerate(docs):
            if index in wanted:
                cluster_of[doc.id] = wanted[index]
                if index in dropped:
                    removed.add(doc.id)
    return cluster_of, removed


def _step_seconds(stats_path: Path) -> dict[str, float]:
    """Seconds each pipeline step spent, summed over the stage's tasks (datatrove's stats.json)."""
    seconds = {}
    for step in json.loads(stats_path.read_text()):
        timing = step["time_stats"]
        seconds[step["name"]] = timing["total"] if isinstance(timing, dict) else timing
    return seconds


def run_datatrove_minhash(
    input_dir: str | Path, work_dir: str | Path | None = None, workers: int = 2
) -> dict:
    """Deduplicate ``input_dir`` with datatrove's MinHash pipeline; return timings and removals.

    The result has ``stages`` (wall seconds of ``signatures``, ``buckets``,
    ``clusters``, ``filter``), ``total_s``, ``step_core_seconds`` (per stage, the
    seconds each step spent summed over tasks), ``dedup_core_seconds`` (the
    MinHash steps of signatures, buckets and clusters), ``removed`` (how many) and
    ``duplicate_of`` (``{removed id: id of the kept document of its cluster}``).
    Intermediate files go to a fresh folder under ``work_dir`` (default: the
    system temporary folder), deleted at the end.
    """
    files = sorted(Path(input_dir).glob(GLOB))
    if not files:
        raise FileNotFoundError(f"no {GLOB} files in {input_dir}")
    config = MinhashConfig()
    run_dir = Path(tempfile.mkdtemp(prefix="datatrove-minhash-", dir=work_dir))
    try:

        def reader() -> JsonlReader:
            return JsonlReader(str(input_dir), glob_pattern=GLOB)

        stages = {
            "signatures": LocalPipelineExecutor(
                [reader(), MinhashDedupSignature(str(run_dir / "signatures"), config=config)],
                tasks=len(files),
                workers=workers,
                logging_dir=str(run_dir / "logs" / "signatures"),
            ),
            "buckets": LocalPipelineExecutor(
                [
                    MinhashDedupBuckets(
                        str(run_dir / "signatures"), str(run_dir / "buckets"), config=config
                    )
                ],
                tasks=config.num_buckets,
                workers=workers,
                logging_dir=str(run_dir / "logs" / "buckets"),
            ),
            "clusters": LocalPipelineExecutor(
                [
                    MinhashDedupCluster(
                        str(run_dir / "buckets"),
                        str(run_dir / "remove_ids"),
                        config=config,
                        save_cluster_id=True,
                    )
                ],
                tasks=1,
                workers=1,
                logging_dir=str(run_dir / "logs" / "clusters"),
            ),
            "filter": LocalPipelineExecutor(
                [
                    reader(),
                    MinhashDedupFilter(
                        str(run_dir / "remove_ids"),
                        exclusion_writer=JsonlWriter(str(run_dir / "removed")),
                    ),
                    JsonlWriter(str(run_dir / "output")),
                ],
                tasks=len(files),
                workers=workers,
                logging_dir=str(run_dir / "logs" / "filter"),
            ),
        }
        seconds = {}
        for name, executor in stages.items():
            start = time.perf_counter()
            executor.run()
            seconds[name] = time.perf_counter() - start

        steps = {name: _step_seconds(run_dir / "logs" / name / "stats.json") for name in stages}
        dedup_steps = [steps[name] for name in ("signatures", "buckets", "clusters")]
        cluster_of, removed = _clusters(run_dir / "remove_ids", input_dir, len(files))
        kept_of_cluster = {c: doc for doc, c in cluster_of.items() if doc not in removed}
        return {
            "config": str(config),
            "workers": workers,
            "input_files": len(files),
            "stages": seconds,
            "total_s": sum(seconds.values()),
            "step_core_seconds": steps,
            "dedup_core_seconds": sum(
                seconds
                for step in dedup_steps
                for name, seconds in step.items()
                if "MinHash" in name
            ),
            "removed": len(removed),
            "duplicate_of": {doc: kept_of_cluster[cluster_of[doc]] for doc in sorted(removed)},
        }
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input_dir", help=f"folder of {GLOB} files")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work-dir", default=None, help="where the temporary run folder goes")
    parser.add_argument("--json", default=None, help="write the result here instead of stdout")
    args = parser.parse_args()
    result = run_datatrove_minhash(args.input_dir, args.work_dir, args.workers)
    text = json.dumps(result, indent=1)
    if args.json:
        Path(args.json).write_text(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
