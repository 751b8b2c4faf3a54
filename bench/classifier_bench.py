"""``make bench`` (classifiers): tagging throughput inside ``procmix prepare``.

Runs ``procmix prepare`` twice on the same input, tagged (the default) and
with ``--no-tag``, as subprocesses sampled like ``prepare_bench.py`` does.
The headline figure is input MB per core-second spent tagging inside prepare
(both models together, with preprocessing), from the run summary's
``tag_seconds``; the difference between the two runs' CPU and wall time is
reported beside it. A single-process split (preprocessing, each model) on a
sample of the same documents says where the time goes.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import orjson
from prepare_bench import PROCMIX, _check, machine_info, run_measured

from classifiers.model import MODELS_DIR, Head
from classifiers.preprocess import preprocess
from classifiers.taxonomy import HEADS

TARGET_MB_S_PER_CORE = 10.0
SAMPLE_DOCS_PER_FILE = 500


def prepare_runs(data: Path, work: Path, workers: int) -> dict:
    """The tagged and the untagged prepare run of ``data``, with their summaries."""
    runs = {}
    for name, extra in (("tagged", []), ("untagged", ["--no-tag"])):
        out = work / name
        command = [str(PROCMIX), "prepare", str(data), "-o", str(out), "--workers", str(workers)]
        log = work / f"{name}.log"
        run = run_measured([*command, *extra], log)
        _check(run, log)
        run["summary"] = json.loads((out / "summary.json").read_text())
        runs[name] = run
    return runs


def component_split(data: Path) -> dict:
    """MB/s on one core of preprocessing and of each model, on a sample of every input file."""
    texts = []
    for path in sorted(data.glob("*.jsonl.gz")):
        with gzip.open(path, "rb") as f:
            texts.extend(
                orjson.loads(line)["text"] for line in itertools.islice(f, SAMPLE_DOCS_PER_FILE)
            )
    mb = sum(len(t.encode()) for t in texts) / 1e6
    started = time.perf_counter()
    lines = preprocess(texts)
    split = {"sample_docs": len(texts), "sample_text_mb": round(mb, 3)}
    split["preprocess_mb_s"] = round(mb / (time.perf_counter() - started), 2)
    for name in HEADS:
        head = Head.load(MODELS_DIR, name)
        started = time.perf_counter()
        head.predict(lines)
        split[f"{name}_mb_s"] = round(mb / (time.perf_counter() - started), 2)
    split["all_mb_s"] = round(1 / sum(1 / v for k, v in split.items() if k.endswith("_mb_s")), 2)
    return split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data", help="folder of *.jsonl.gz inputs")
    parser.add_argument("--out", default="bench/results/classifiers.json", help="JSON report")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work-dir", default=None, help="keep outputs here (default: temp)")
    args = parser.parse_args()
    if not PROCMIX.exists():
        sys.exit(f"{PROCMIX} not found: install procmix into this venv first")
    data = Path(args.data)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="procmix-classifier-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    report = {"machine": machine_info(), "settings": vars(args)}
    try:
        runs = prepare_runs(data, work, args.workers)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    tagged, untagged = runs["tagged"], runs["untagged"]
    summary = tagged["summary"]
    input_mb = summary["input_mb"]
    extra_cpu = tagged["cpu_s"] - untagged["cpu_s"]
    report["runs"] = {
        name: {k: v for k, v in run.items() if k != "summary"}
        | {key: run["summary"].get(key) for key in ("input_mb", "kept", "elapsed_s", "stages")}
        for name, run in runs.items()
    }
    report["tagging"] = {
        "input_mb": input_mb,
        "kept_documents": summary["kept"],
        "tag_seconds": summary["tag_seconds"],
        "mb_s_per_core": summary["tag_mb_per_s_per_core"],
        "extra_cpu_s_vs_no_tag": round(extra_cpu, 3),
        "mb_s_per_core_from_cpu_difference": round(input_mb / extra_cpu, 2)
        if extra_cpu > 0
        else None,
        "elapsed_s_tagged": summary["elapsed_s"],
        "elapsed_s_no_tag": untagged["summary"]["elapsed_s"],
        "models": {h: summary["classifiers"][h]["version"] for h in HEADS},
    }
    report["component_split_one_core"] = component_split(data)
    report["target"] = {
        "mb_s_per_core": TARGET_MB_S_PER_CORE,
        "measured": summary["tag_mb_per_s_per_core"],
        "pass": summary["tag_mb_per_s_per_core"] >= TARGET_MB_S_PER_CORE,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["tagging"] | {"split": report["component_split_one_core"]}, indent=2))


if __name__ == "__main__":
    main()
