"""``make bench``: throughput, memory and dedup quality of ``procmix prepare``.

For each scale: build the benchmark corpus (``build_corpus.py``), run
``procmix prepare`` on it as a subprocess while sampling the RSS of its whole
process tree every 0.1 s, then score its ledger against the planted
near-duplicates. With ``--decont INDEX``, prepare runs twice on ``--data``
itself (the demo corpus, tagged as ``make demo`` does), without and with
``--decont``, for the time decontamination adds. Then a head-to-head run: a scale-1 corpus capped at
``--datatrove-mb`` MB of source text (datatrove's stock MinHash pipeline runs
at well under 1 MB/s per core, so the full corpus would take many minutes),
on which procmix and datatrove (``datatrove_minhash.py``) both run, with the
same worker count, for the speed comparison. The JSON report holds every
figure, the machine and pass/fail for each target; a short table is printed.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Set
from importlib.metadata import version
from pathlib import Path

import duckdb
import orjson
import psutil
from build_corpus import build_corpus

from pipeline.minhash import shingles

BENCH_DIR = Path(__file__).resolve().parent
PROCMIX = Path(sys.executable).with_name("procmix")
SAMPLE_EVERY_S = 0.1
PSS_EVERY = 5  # samples: reading smaps_rollup costs about 1 ms per process
BANDS = ((0.0, 0.5), (0.5, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.0))
LOW_BAND = "[0.0, 0.5)"
TOP_BAND = "[0.9, 1.0]"
DATATROVE_MB = 40.0
THRESHOLD = 0.8
TARGETS = {
    "end_to_end_vs_datatrove_x": 20.0,
    "dedup_mb_s_per_core": 20.0,
    "peak_rss_mb": 1000.0,
    "recall_j_ge_0.9": 0.95,
    "precision_j_ge_0.8": 0.97,
}
# prepare --decont wall time / prepare wall time on the demo corpus: <= target.
DECONT_OVERHEAD_MAX = 1.30


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(BENCH_DIR.parent), *args], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def machine_info() -> dict:
    """Cores, memory, Python, library versions, the procmix commit and the date of this run."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "python": platform.python_version(),
        "procmix": version("procmix"),
        "procmix_commit": _git("rev-parse", "--short", "HEAD"),
        "procmix_uncommitted_changes": None if status is None else bool(status),
        "datatrove": version("datatrove"),
        "load_average_at_start": os.getloadavg(),
    }


def _pss(pid: int) -> int | None:
    """Proportional set size of a process (Linux ``smaps_rollup``), or None if unavailable."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class TreeSampler:
    """Peak memory and CPU time of a process and all its descendants, sampled."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.samples = 0
        self.peak_process = 0
        self.peak_tree = 0
        self.peak_pss: int | None = None
        self.cpu: dict[tuple[int, float], float] = {}

    def sample(self) -> None:
        try:
            tree = [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        rss = []
        pss = []
        with_pss = self.samples % PSS_EVERY == 0
        for member in tree:
            try:
                with member.oneshot():
                    rss.append(member.memory_info().rss)
                    times = member.cpu_times()
                    self.cpu[(member.pid, member.create_time())] = times.user + times.system
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if with_pss:
                pss.append(_pss(member.pid))
        if not rss:
            return
        self.samples += 1
        self.peak_process = max(self.peak_process, max(rss))
        self.peak_tree = max(self.peak_tree, sum(rss))
        if pss and None not in pss:
            self.peak_pss = max(self.peak_pss or 0, sum(pss))


def run_measured(command: list[str], log_path: Path) -> dict:
    """Run ``command`` to completion, sampling its process tree every 0.1 s.

    Returns ``returncode``, ``wall_s``, ``cpu_s`` (user + system seconds of
    the tree, as last sampled), ``peak_rss_process_mb`` (the largest single
    process), ``peak_rss_tree_mb`` (the largest sum over the tree; it counts
    pages that forked processes share once per process, so it over-states)
    and ``peak_pss_tree_mb`` (the largest sum of proportional set sizes,
    which splits shared pages; sampled every 0.5 s). Output goes to ``log_path``.
    """
    start = time.perf_counter()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        while True:
            sampler.sample()
            try:
                proc.wait(timeout=SAMPLE_EVERY_S)
                break
            except subprocess.TimeoutExpired:
                continue
    wall = time.perf_counter() - start
    return {
        "command": command,
        "returncode": proc.returncode,
        "wall_s": round(wall, 3),
        "cpu_s": round(sum(sampler.cpu.values()), 3),
        "peak_rss_process_mb": round(sampler.peak_process / 1e6, 1),
        "peak_rss_tree_mb": round(sampler.peak_tree / 1e6, 1),
        "peak_pss_tree_mb": None if sampler.peak_pss is None else round(sampler.peak_pss / 1e6, 1),
        "samples": sampler.samples,
    }


def _check(run: dict, log_path: Path) -> None:
    if run["returncode"] != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{run['command'][:3]} exited {run['returncode']}:\n{tail}")


def procmix_duplicates(out: Path) -> tuple[dict[str, str], dict[str, str], set[str]]:
    """From procmix's ledger: ``({removed id: kept id}, {removed id: fate}, {quarantined ids})``."""
    ledger = str(out / "ledger" / "*.parquet")
    with duckdb.connect() as con:
        rows = con.execute(
            f"""
            SELECT d.id, d.fate, k.id
            FROM read_parquet('{ledger}') d
            LEFT JOIN read_parquet('{ledger}') k ON d.duplicate_of = k.doc_key
            WHERE d.fate IN ('exact_duplicate', 'near_duplicate')
            """
        ).fetchall()
        quarantined = con.execute(
            f"SELECT id FROM read_parquet('{ledger}') WHERE fate = 'quarantined'"
        ).fetchall()
    return (
        {doc: kept for doc, _, kept in rows},
        {doc: fate for doc, fate, _ in rows},
        {doc for (doc,) in quarantined},
    )


def read_shingles(corpus_dir: Path, ids: set[str]) -> dict[str, set[str]]:
    """The procmix shingle sets of the documents ``ids``, streamed from the corpus."""
    sets = {}
    for path in sorted(corpus_dir.glob("*.jsonl.gz")):
        with gzip.open(path, "rb") as lines:
            for line in lines:
                record = orjson.loads(line)
                if record["id"] in ids:
                    sets[record["id"]] = shingles(record["text"])
    return sets


def _jaccard(a: set[str], b: set[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def recall_by_band(
    truth: list[dict], duplicate_of: dict[str, str], lost: Set[str] = frozenset()
) -> dict:
    """Per true-Jaccard band, how many planted pairs ended in the same cluster.

    Two documents share a cluster when one is the duplicate of the other or
    both are duplicates of the same kept document. A document in ``lost``
    (quarantined) is in no cluster. The band below 0.5 measures merges that
    should not happen.
    """
    bands = {}
    for low, high in BANDS:
        pairs = [
            p for p in truth if low <= p["jaccard"] < high or (high == 1.0 and p["jaccard"] == 1.0)
        ]
        found = sum(
            p["id_a"] not in lost
            and p["id_b"] not in lost
            and duplicate_of.get(p["id_a"], p["id_a"]) == duplicate_of.get(p["id_b"], p["id_b"])
            for p in pairs
        )
        name = f"[{low}, {high}]" if high == 1.0 else f"[{low}, {high})"
        bands[name] = {
            "pairs": len(pairs),
            "same_cluster": found,
            "fraction": round(found / len(pairs), 4) if pairs else None,
        }
    return bands


def precision(
    pairs: dict[str, str], sets: dict[str, set[str]], members: dict[str, list[str]] | None = None
) -> dict:
    """Of the (duplicate, kept representative) pairs, the share truly similar (exact Jaccard).

    With ``members`` (kept id -> its cluster), a pair below the threshold is
    also checked for a chain: the duplicate is >= 0.8 similar to another
    member of its cluster, so clustering joined it transitively rather than
    on a false match. The lowest pairs are listed.
    """
    similarity = {doc: _jaccard(sets[doc], sets[kept]) for doc, kept in pairs.items()}
    n = len(similarity)
    result = {
        "pairs": n,
        "j_ge_0.8": round(sum(j >= THRESHOLD for j in similarity.values()) / n, 4) if n else None,
        "j_ge_0.7": round(sum(j >= 0.7 for j in similarity.values()) / n, 4) if n else None,
        "lowest": [
            {"duplicate": doc, "kept": pairs[doc], "jaccard": round(j, 4)}
            for doc, j in sorted(similarity.items(), key=lambda item: item[1])[:5]
        ],
    }
    if members is not None:
        below = [doc for doc, j in similarity.items() if j < THRESHOLD]
        result["below_0.8_chained"] = sum(
            any(
                other != doc and _jaccard(sets[doc], sets[other]) >= THRESHOLD
                for other in members[pairs[doc]]
            )
            for doc in below
        )
        result["below_0.8"] = len(below)
    return result


def score(
    truth: list[dict],
    duplicate_of: dict[str, str],
    fate: dict[str, str] | None,
    sets: dict[str, set[str]],
    lost: Set[str] = frozenset(),
) -> dict:
    """Recall by band on the planted pairs, and precision of the pairs the tool produced.

    With ``fate`` (procmix), precision is over near-duplicate pairs (exact
    duplicates are reported on their own) and pairs below 0.8 are checked for
    chains; without it (datatrove, which does not tell them apart), precision
    is over every removed document.
    """
    result = {"recall_by_band": recall_by_band(truth, duplicate_of, lost)}
    if fate is None:
        result["precision"] = precision(duplicate_of, sets)
        return result
    members: dict[str, list[str]] = {}
    for doc, kept in duplicate_of.items():
        members.setdefault(kept, [kept]).append(doc)
    near = {doc: kept for doc, kept in duplicate_of.items() if fate[doc] == "near_duplicate"}
    exact = {doc: kept for doc, kept in duplicate_of.items() if fate[doc] == "exact_duplicate"}
    result["precision"] = precision(near, sets, members)
    result["precision_exact_duplicates"] = precision(exact, sets)
    return result


def throughput(mb: float, documents: int, seconds: float, workers: int) -> dict:
    """MB/s and docs/s, in total and per core, for a run of ``seconds``."""
    return {
        "seconds": round(seconds, 3),
        "mb_s": round(mb / seconds, 3),
        "mb_s_per_core": round(mb / seconds / workers, 3),
        "docs_s_per_core": round(documents / seconds / workers, 1),
    }


def run_procmix(corpus_dir: Path, run_dir: Path, workers: int) -> tuple[dict, Path]:
    """Run ``procmix prepare`` on the corpus as a measured subprocess."""
    out = run_dir / "procmix-out"
    log = run_dir / "procmix.log"
    # datatrove's pipeline does not classify: compare the same work (tagging has its own bench).
    command = [
        str(PROCMIX),
        "prepare",
        str(corpus_dir),
        "-o",
        str(out),
        "--workers",
        str(workers),
        "--no-tag",
    ]
    run = run_measured(command, log)
    _check(run, log)
    return run, out


def run_datatrove(corpus_dir: Path, run_dir: Path, workers: int) -> tuple[dict, dict]:
    """Run ``datatrove_minhash.py`` on the corpus as a measured subprocess."""
    result_path = run_dir / "datatrove.json"
    log = run_dir / "datatrove.log"
    command = [
        sys.executable,
        str(BENCH_DIR / "datatrove_minhash.py"),
        str(corpus_dir),
        "--workers",
        str(workers),
        "--work-dir",
        str(run_dir),
        "--json",
        str(result_path),
    ]
    run = run_measured(command, log)
    _check(run, log)
    return run, json.loads(result_path.read_text())


def bench_corpus(
    name: str,
    work: Path,
    args: argparse.Namespace,
    scale: int,
    max_mb: float | None,
    datatrove: bool,
) -> dict:
    """Build a corpus, run procmix (and, if asked, datatrove) on it, and score the results."""
    run_dir = work / name
    start = time.perf_counter()
    corpus = build_corpus(args.data, run_dir, scale=scale, seed=args.seed, max_mb=max_mb)
    build_s = time.perf_counter() - start
    corpus_dir = Path(corpus["corpus_dir"])
    truth = json.loads(Path(corpus["truth"]).read_text())
    mb = corpus["jsonl_mb"]
    print(
        f"{name}: {corpus['documents']:,} docs, {mb:.1f} MB, "
        f"{corpus['planted_pairs']:,} planted pairs (built in {build_s:.0f} s)",
        flush=True,
    )

    run, out = run_procmix(corpus_dir, run_dir, args.workers)
    print(f"{name}: procmix prepare {run['wall_s']:.1f} s", flush=True)
    summary = json.loads((out / "summary.json").read_text())
    duplicate_of, fate, quarantined = procmix_duplicates(out)
    needed = {doc for pair in duplicate_of.items() for doc in pair}
    if datatrove:
        dt_run, dt = run_datatrove(corpus_dir, run_dir, args.workers)
        print(f"{name}: datatrove minhash {dt_run['wall_s']:.1f} s", flush=True)
        needed |= {doc for pair in dt["duplicate_of"].items() for doc in pair}
    sets = read_shingles(corpus_dir, needed)

    documents = summary["documents_in"]
    result = {
        "name": name,
        "scale": scale,
        "max_mb": max_mb,
        "corpus": {k: v for k, v in corpus.items() if k not in ("files", "out_dir", "truth")},
        "corpus_build_s": round(build_s, 1),
        "procmix": {
            "run": run,
            "summary": summary,
            "end_to_end": throughput(mb, documents, summary["elapsed_s"], args.workers),
            "end_to_end_process_wall": throughput(mb, documents, run["wall_s"], args.workers),
            "dedup_mb_s_per_core": round(mb / summary["dedup_seconds"], 3),
            "quality": score(truth, duplicate_of, fate, sets, quarantined),
        },
    }
    if datatrove:
        result["datatrove"] = {
            "run": dt_run,
            "config": dt["config"],
            "stages_s": dt["stages"],
            "removed": dt["removed"],
            "end_to_end": throughput(mb, documents, dt["total_s"], args.workers),
            "dedup_core_seconds": round(dt["dedup_core_seconds"], 3),
            "dedup_mb_s_per_core": round(mb / dt["dedup_core_seconds"], 3),
            "step_core_seconds": dt["step_core_seconds"],
            "quality": score(truth, dt["duplicate_of"], None, sets),
        }
        result["ratios"] = ratios(result)
    if args.work_dir is None:
        shutil.rmtree(run_dir, ignore_errors=True)
    return result


def decont_overhead(data: str, index: str, work: Path, workers: int) -> dict:
    """Prepare ``data`` (tagged, as ``make demo``) without and with ``--decont``, same run."""
    runs = {}
    for name, extra in (("plain", []), ("decont", ["--decont", index])):
        out, log = work / f"decont-bench-{name}", work / f"decont-bench-{name}.log"
        command = [str(PROCMIX), "prepare", data, "-o", str(out), "--workers", str(workers)]
        run = run_measured(command + extra, log)
        _check(run, log)
        summary = json.loads((out / "summary.json").read_text())
        decont = summary.get("decont", {})
        runs[name] = {"run": run, "elapsed_s": summary["elapsed_s"], "decont": decont}
        print(f"decont bench: prepare {name} {run['wall_s']:.1f} s", flush=True)
        shutil.rmtree(out, ignore_errors=True)
    ratio = runs["decont"]["run"]["wall_s"] / runs["plain"]["run"]["wall_s"]
    return {
        "runs": runs,
        "wall_ratio": round(ratio, 3),
        "elapsed_ratio": round(runs["decont"]["elapsed_s"] / runs["plain"]["elapsed_s"], 3),
        # CPU seconds of the process tree: what the ratio is when other jobs share the cores.
        "cpu_ratio": round(runs["decont"]["run"]["cpu_s"] / runs["plain"]["run"]["cpu_s"], 3),
        "target": DECONT_OVERHEAD_MAX,
        "pass": ratio <= DECONT_OVERHEAD_MAX,
        "how": "process wall seconds of prepare --decont / prepare, same input and workers",
    }


def ratios(entry: dict) -> dict:
    """How many times faster procmix is than datatrove on the same corpus."""
    procmix, datatrove = entry["procmix"], entry["datatrove"]
    datatrove_s = datatrove["end_to_end"]["seconds"]
    return {
        "end_to_end_x": round(datatrove_s / procmix["end_to_end"]["seconds"], 2),
        "end_to_end_process_wall_x": round(
            datatrove_s / procmix["end_to_end_process_wall"]["seconds"], 2
        ),
        "dedup_per_core_x": round(
            procmix["dedup_mb_s_per_core"] / datatrove["dedup_mb_s_per_core"], 2
        ),
        "note": "end_to_end_x: datatrove's 4 stage wall seconds / procmix summary elapsed_s; "
        "end_to_end_process_wall_x: the same against procmix's whole process wall time "
        "(interpreter start-up included); dedup_per_core_x: dedup MB per core-second "
        "(signatures + buckets + clusters) of procmix / that of datatrove",
    }


def targets(runs: list[dict], head_to_head: dict) -> dict:
    """Each target with the measured value(s) and pass/fail."""
    ratio = head_to_head["ratios"]["end_to_end_process_wall_x"]

    def per_scale(value: Callable[[dict], object]) -> dict:
        return {f"{r['scale']}x": value(r["procmix"]) for r in runs}

    dedup = per_scale(lambda p: p["dedup_mb_s_per_core"])
    memory = per_scale(
        lambda p: {
            key: p["run"][key]
            for key in ("peak_rss_tree_mb", "peak_pss_tree_mb", "peak_rss_process_mb")
        }
    )
    recall = per_scale(lambda p: p["quality"]["recall_by_band"][TOP_BAND]["fraction"])
    prec = per_scale(lambda p: p["quality"]["precision"]["j_ge_0.8"])
    checks = {
        "end_to_end_vs_datatrove_x": (ratio, ratio >= TARGETS["end_to_end_vs_datatrove_x"]),
        "dedup_mb_s_per_core": (
            dedup,
            all(v >= TARGETS["dedup_mb_s_per_core"] for v in dedup.values()),
        ),
        "peak_rss_mb": (
            memory,
            all(v["peak_rss_tree_mb"] < TARGETS["peak_rss_mb"] for v in memory.values()),
        ),
        "recall_j_ge_0.9": (
            recall,
            all(v is not None and v >= TARGETS["recall_j_ge_0.9"] for v in recall.values()),
        ),
        "precision_j_ge_0.8": (
            prec,
            all(v is not None and v >= TARGETS["precision_j_ge_0.8"] for v in prec.values()),
        ),
    }
    return {
        name: {"target": TARGETS[name], "measured": value, "pass": ok, "how": TARGET_NOTES[name]}
        for name, (value, ok) in checks.items()
    }


TARGET_NOTES = {
    "end_to_end_vs_datatrove_x": "datatrove's stage seconds / procmix's process wall seconds on "
    "the head-to-head corpus (same input, same workers): >= target",
    "dedup_mb_s_per_core": "input MB / procmix dedup_seconds (core-seconds), every scale: "
    ">= target",
    "peak_rss_mb": "peak RSS summed over procmix's process tree (peak_rss_tree_mb), MB, every "
    "scale: < target; the PSS sum and the largest single process are shown beside it",
    "recall_j_ge_0.9": "share of planted pairs with true Jaccard >= 0.9 that end in one cluster, "
    "every scale: >= target",
    "precision_j_ge_0.8": "share of procmix's near-duplicate pairs with true Jaccard >= 0.8, "
    "every scale: >= target",
}


def print_table(report: dict) -> None:
    """The headline figures of every run, then the targets."""
    rows = [
        (
            "run",
            "docs",
            "MB",
            "wall s",
            "MB/s/core",
            "dedup MB/s/core",
            "MB RSS proc/tree, PSS",
            "recall J .5/.7/.8/.9",
            "prec J>=.8 (>=.7)",
        )
    ]
    head_to_head = report["head_to_head"]
    entries = [(f"procmix {r['name']}", r, r["procmix"]) for r in report["runs"]]
    entries.append((f"procmix {head_to_head['name']}", head_to_head, head_to_head["procmix"]))
    entries.append((f"datatrove {head_to_head['name']}", head_to_head, head_to_head["datatrove"]))
    for name, run, entry in entries:
        memory = entry["run"]
        recall = entry["quality"]["recall_by_band"]
        prec = entry["quality"]["precision"]
        rows.append(
            (
                name,
                f"{run['corpus']['documents']:,}",
                f"{run['corpus']['jsonl_mb']:.1f}",
                f"{entry['run']['wall_s']:.1f}",
                f"{entry['end_to_end']['mb_s_per_core']:.2f}",
                f"{entry['dedup_mb_s_per_core']:.2f}",
                f"{memory['peak_rss_process_mb']:.0f}/{memory['peak_rss_tree_mb']:.0f}, "
                f"{memory['peak_pss_tree_mb']}",
                "/".join(
                    "-" if band["fraction"] is None else f"{band['fraction']:.2f}"
                    for key, band in recall.items()
                    if key != LOW_BAND
                ),
                f"{prec['j_ge_0.8']} ({prec['j_ge_0.7']})",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
    ratio = head_to_head["ratios"]
    print(
        f"\nprocmix vs datatrove on {head_to_head['name']}: {ratio['end_to_end_process_wall_x']}x "
        f"end to end (process wall), {ratio['end_to_end_x']}x (elapsed_s), "
        f"{ratio['dedup_per_core_x']}x dedup per core"
    )
    for name, check in report["targets"].items():
        verdict = "PASS" if check["pass"] else "FAIL"
        print(f"{verdict}  {name}: {json.dumps(check['measured'])} (target {check['target']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data", help="folder of *.jsonl.gz inputs")
    parser.add_argument("--out", default="bench/results/prepare.json", help="JSON report path")
    parser.add_argument("--scales", default="1,4", help="comma-separated corpus scales")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--max-mb", type=float, default=None, help="cap on source text per scale, MB (quick runs)"
    )
    parser.add_argument(
        "--datatrove-mb",
        type=float,
        default=DATATROVE_MB,
        help="source text MB of the head-to-head corpus that datatrove and procmix both run on",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--decont", default=None, help="index folder: also time prepare --decont on --data"
    )
    parser.add_argument(
        "--work-dir", default=None, help="keep corpora and outputs here (default: temp, removed)"
    )
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    if not PROCMIX.exists():
        sys.exit(f"{PROCMIX} not found: install procmix into this venv first")
    head_mb = args.datatrove_mb if args.max_mb is None else min(args.datatrove_mb, args.max_mb)

    started = time.perf_counter()
    report = {"machine": machine_info(), "settings": vars(args) | {"scales": scales}}
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="procmix-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        report["runs"] = [
            bench_corpus(f"{scale}x", work, args, scale, args.max_mb, datatrove=False)
            for scale in scales
        ]
        report["head_to_head"] = bench_corpus(
            f"1x-{head_mb:g}MB", work, args, 1, head_mb, datatrove=True
        )
        if args.decont:
            report["decont"] = decont_overhead(args.data, args.decont, work, args.workers)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    report["targets"] = targets(report["runs"], report["head_to_head"])
    report["all_targets_pass"] = all(check["pass"] for check in report["targets"].values())
    report["bench_wall_s"] = round(time.perf_counter() - started, 1)
    report["machine"]["load_average_at_end"] = os.getloadavg()

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print_table(report)
    if "decont" in report:
        decont = report["decont"]
        verdict = "PASS" if decont["pass"] else "FAIL"
        print(f"{verdict}  decont_overhead: {decont['wall_ratio']}x (target {decont['target']})")
    print(f"\nreport: {out} ({report['bench_wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
