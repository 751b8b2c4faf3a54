"""``mix`` and ``sweep``: solve, select, write shards and the manifest."""

from __future__ import annotations

import dataclasses
import os
import posixpath
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mixtures import MANIFEST, SWEEP_FILE, sampler
from mixtures.corpus import Corpus, CorpusError, load_corpus, load_tokenizer
from mixtures.figures import block_digest, figures
from mixtures.manifest import build_manifest
from mixtures.optimiser import Confusion, Infeasible, Problem, Solution, bound_reasons, solve
from mixtures.rounding import (
    Goal,
    Groups,
    block_error,
    granularity,
    granularity_reasons,
    joint_counts,
    nesting_limits,
)
from mixtures.spec import MixSpec, SpecError
from mixtures.verify import Check, check_mixture, within_of_shards
from mixtures.writer import WORK_DIR, OutputRows, write_shards
from procmix_core.atomic import TMP_SUFFIX, write_json
from procmix_core.decont_match import CORPUS_INDEX_DIR
from procmix_core.layout import DOCS_DIR, SUMMARY_FILE
from procmix_core.output import FolderInUse, claim_output_folder
from procmix_core.storage import Location, local_copy, local_files, workspace
from procmix_core.tokens import BYTES_PER_TOKEN

SHARD_GLOB = re.compile(r"shard-\d+\.parquet(" + re.escape(TMP_SUFFIX) + ")?")


class MixError(ValueError):
    """A mixture that cannot be written as asked (output folder in the way, ...)."""


class SelfCheckFailed(MixError):
    """The written shards fail a check ``verify`` would run: no manifest was written."""

    def __init__(self, out: Path, failed: list[Check], reasons: list[str]):
        self.out, self.failed, self.reasons = out, failed, reasons
        super().__init__(
            f"{out}: {len(failed)} check(s) failed on the written shards; no manifest written"
        )


@dataclass
class Selection:
    copies: np.ndarray  # per corpus document
    bucket_tokens: dict[tuple[str, str, str], float]
    group_targets: np.ndarray  # planned tokens per rounding group
    counts: np.ndarray  # entries of each group's merged order taken
    granularity: dict[str, dict[str, float]]  # per procedural task type (rounding.granularity)
    block_error: float  # tokens the factual/other block's prefix misses its plan by
    seconds: float  # wall and CPU time selecting, counted in the mix's timing
    cpu_seconds: float


def _confusion(corpus: Corpus) -> tuple[Confusion | None, list[str]]:
    """The corpus's task-type confusion matrix (summary.json) or None, and the
    procedural task types it does not cover."""
    entry = corpus.classifiers.get("task_type") or {}
    if "p_true_given_pred" not in entry:
        return None, []
    confusion = Confusion.from_summary(entry)
    b = corpus.buckets
    present = {t for t, p in zip(b.task_type, b.procedural, strict=True) if p}
    return confusion, sorted(present - set(confusion.labels))


def report_confusion(corpus: Corpus) -> Confusion | None:
    """The matrix for the manifest's noise-corrected D1: only when it covers every
    procedural task type, since the figure would otherwise leave some out."""
    confusion, missing = _confusion(corpus)
    return None if missing else confusion


def confusion_for(spec: MixSpec, corpus: Corpus) -> Confusion | None:
    """The confusion matrix when the spec asks for noise correction."""
    if not spec.noise_correction:
        return None
    confusion, missing = _confusion(corpus)
    if confusion is None:
        raise CorpusError(
            f"noise_correction: true needs summary.json classifiers.task_type.p_true_given_pred "
            f"in {corpus.root}; it is absent: run prepare with tagging, or set "
            "noise_correction: false"
        )
    if missing:
        raise CorpusError(
            f"noise_correction: procedural task types {missing} are not among the classifier's "
            f"labels {confusion.labels} (summary.json classifiers.task_type.labels): check labels:"
        )
    return confusion


def problem_for(spec: MixSpec, corpus: Corpus) -> Problem:
    return Problem(
        buckets=corpus.buckets,
        tokens=spec.tokens,
        procedural_share=spec.procedural_share,
        diversity=spec.diversity,
        tasks=spec.tasks,
        max_epochs=spec.max_epochs,
        confusion=confusion_for(spec, corpus),
    )


def open_corpus(spec: MixSpec) -> Corpus:
    """The spec's corpus; one on object storage is read from a local copy of its docs/,
    summary.json and decont-index/ (a mixture reads every byte of them anyway)."""
    where = Location.of(spec.corpus, spec.storage_options)
    tokenizer = load_tokenizer(spec.tokenizer)
    if not where.remote:
        return load_corpus(
            spec.corpus, spec.labels, tokenizer, spec.decontaminate, spec.min_confidence
        )
    where.check()
    copy = local_copy(where, [DOCS_DIR, SUMMARY_FILE, CORPUS_INDEX_DIR])
    corpus = load_corpus(copy.name, spec.labels, tokenizer, spec.decontaminate, spec.min_confidence)
    return dataclasses.replace(corpus, root=where.url, copy=copy)


def rounding_groups(corpus: Corpus, seed: int) -> Groups:
    """The corpus's groups and their merged seeded orders: one per corpus and seed,
    shared by a sweep's arms."""
    docs = corpus.docs
    names, bucket_group = np.unique(corpus.buckets.groups, return_inverse=True)
    order = sampler.group_order(
        corpus.base_hashes,
        docs["doc_key"],
        docs["bucket"].to_numpy(),
        bucket_group,
        docs["n_tokens"].to_numpy(),
        len(names),
        seed,
    )
    return Groups([str(n) for n in names], bucket_group, order)


def goal_for(spec: MixSpec, corpus: Corpus, solution: Solution, groups: Groups) -> Goal:
    return Goal(
        tokens=spec.tokens,
        procedural_share=spec.procedural_share,
        d1=spec.diversity.d1,
        task_shares=solution.task_shares,
        task_tokens=dict(zip(groups.tasks, groups.targets(solution.targets), strict=True)),
        confusion=confusion_for(spec, corpus),
    )


def select(
    spec: MixSpec,
    corpus: Corpus,
    solution: Solution,
    groups: Groups,
    nested_in: list[Selection] = (),
) -> Selection:
    """Whole documents per group that meet the spec's targets together (joint rounding),
    nested with the ``nested_in`` arms of the same sweep."""
    started, cpu = time.perf_counter(), time.process_time()
    targets = groups.targets(solution.targets)
    limits = None
    if nested_in:
        top = np.array([spec.max_epochs * groups.order.size(g) for g in range(len(targets))])
        limits = nesting_limits([(s.group_targets, s.counts) for s in nested_in], targets, top)
    goal = goal_for(spec, corpus, solution, groups)
    counts = joint_counts(groups, targets, goal, spec.max_epochs, limits)
    copies = groups.order.copies(counts, len(corpus.docs))
    bucket = corpus.docs["bucket"].to_numpy()
    tokens = corpus.docs["n_tokens"].to_numpy()
    per_bucket = np.bincount(bucket, weights=tokens * copies, minlength=len(corpus.buckets))
    b = corpus.buckets
    return Selection(
        copies,
        {
            (b.source[i], b.content_type[i], b.task_type[i]): float(per_bucket[i])
            for i in range(len(b))
        },
        targets,
        counts,
        granularity(groups, targets, spec.max_epochs),
        block_error(groups, targets, spec.max_epochs),
        time.perf_counter() - started,
        time.process_time() - cpu,
    )


def output_rows(spec: MixSpec, corpus: Corpus, copies: np.ndarray) -> OutputRows:
    docs = corpus.docs
    bucket = docs["bucket"].to_numpy()
    task = np.array(corpus.buckets.task_type, dtype=object)
    structured = np.isin(task[bucket], list(sampler.STRUCTURED_TASKS)) if len(bucket) else bucket
    doc, epoch = sampler.output_order(
        corpus.base_hashes,
        docs["doc_key"],
        copies,
        structured,
        spec.seed,
        spec.order == "structured_first",
    )
    # Shards are cut by text bytes; prepare's estimate gives them back from est_tokens.
    row_bytes = docs["est_tokens"].to_numpy()[doc] * BYTES_PER_TOKEN
    return OutputRows(doc, epoch, sampler.shard_of(row_bytes, spec.shard_rows, spec.shard_bytes))


def block_digests(corpus: Corpus, copies: np.ndarray) -> dict[str, str]:
    keys = np.asarray(corpus.docs["doc_key"].to_pylist(), dtype=object)
    procedural = corpus.buckets.procedural[corpus.docs["bucket"].to_numpy()]
    doc, epoch = sampler.expand(copies)
    result = {}
    for name, mask in (("procedural", procedural[doc]), ("factual_other", ~procedural[doc])):
        result[name] = block_digest(keys[doc[mask]].tolist(), epoch[mask])
    return result


def _mixture_files_only(folder: Path) -> bool:
    """Whether ``folder`` holds only what mix or sweep write (also after a crash)."""
    return all(_mixture_file(name) for name in local_files(folder))


@contextmanager
def _output(out: str | os.PathLike, overwrite: bool, options: dict) -> Iterator[Path]:
    """The local folder mix and sweep write into: ``out`` itself, or for a URL a scratch
    folder uploaded to it afterwards, shards first, manifests and sweep.json last (a
    failed self-check leaves shards without a manifest there too, as on disk)."""
    where = Location.of(out, options)
    if not where.remote:
        prepare_out(Path(out), overwrite)
        yield Path(out)
        return
    where.check()
    names = where.files()
    if names and not overwrite:
        raise MixError(f"{where.url} is not empty: choose a new folder or pass --overwrite")
    if not all(_mixture_file(n) for n in names):
        raise MixError(f"{where.url} holds files that are not a mixture: refusing to overwrite")
    where.remove()
    with workspace(where) as space:
        try:
            yield space.local
        finally:
            written = [n for n in local_files(space.local) if WORK_DIR not in n.split("/")]
            rank = {MANIFEST: 1, SWEEP_FILE: 2}
            space.publish(sorted(written, key=lambda n: rank.get(posixpath.basename(n), 0)))


def _mixture_file(name: str) -> bool:
    """Whether a file (a path relative to the folder) is one mix or sweep writes."""
    *folders, base = name.split("/")
    return WORK_DIR in folders or base in (MANIFEST, SWEEP_FILE) or bool(SHARD_GLOB.match(base))


def prepare_out(out: Path, overwrite: bool) -> None:
    """Refuse to mix into a folder holding something else; clear an old mixture on overwrite."""
    try:
        claim_output_folder(out, overwrite, owned=_mixture_files_only)
    except FolderInUse as e:
        if e.kind == "file":
            raise MixError(f"-o: expected a folder (new or empty), found a file: {out}") from e
        if e.kind == "occupied":
            raise MixError(f"{out} is not empty: choose a new folder or pass --overwrite") from e
        raise MixError(f"{out} holds files that are not a mixture: refusing to overwrite") from e


def plan(
    spec: MixSpec, corpus: Corpus, groups: Groups, nested_in: list[Selection] = ()
) -> tuple[Solution, Selection]:
    """Solve and select; raises ``Infeasible`` naming the binding constraint.

    Whole documents cannot give a task type planned under half a document, so the
    planned D0 and D2 are those of the selection, and the spec's D0 / D2 bounds
    are checked on them.
    """
    problem = problem_for(spec, corpus)
    solution = solve(problem)
    selection = select(spec, corpus, solution, groups, nested_in)
    if solution.task_shares:
        selected = figures(selection.bucket_tokens)
        solution.planned.update(d0=selected["d0"], d2=selected["d2"])
        reasons = bound_reasons(problem.diversity, solution.planned)
        if reasons:
            raise Infeasible(reasons)
    return solution, selection


def write_shards_checked(
    spec: MixSpec, corpus: Corpus, solution: Solution, selection: Selection, out: Path
) -> dict:
    """Write the shards and check them as ``verify`` will; return the manifest to publish.

    Raises ``SelfCheckFailed`` (shards left as an interrupted mix, no manifest)
    when a check fails.
    """
    started, cpu = time.perf_counter(), time.process_time()
    rows = output_rows(spec, corpus, selection.copies)
    shards = write_shards(corpus, rows, out)
    confusion = report_confusion(corpus)
    achieved = figures(selection.bucket_tokens, confusion)
    within_started = time.perf_counter()
    within = within_of_shards(out, spec.to_dict(), achieved["task_shares"])
    within_seconds = time.perf_counter() - within_started
    manifest = build_manifest(
        spec,
        corpus,
        solution,
        selection.bucket_tokens,
        {**achieved, "within_diversity": within},
        shards,
        block_digests(corpus, selection.copies),
        confusion,
        selection.granularity,
        corpus.decontamination.manifest_entry(selection.copies),
    )
    failed = [c for c in check_mixture(out, manifest, within) if not c.ok]
    if failed:
        sizes = corpus.docs["n_tokens"].to_numpy().astype(float)
        typical = float((sizes**2).sum() / sizes.sum())
        budget_docs = spec.tokens / typical
        reasons = granularity_reasons(
            [c.name for c in failed],
            selection.granularity,
            budget_docs,
            selection.block_error / spec.tokens,
        )
        raise SelfCheckFailed(out, failed, reasons)
    seconds = time.perf_counter() - started + selection.seconds
    cpu = time.process_time() - cpu + selection.cpu_seconds
    text_mb = sum(s["text_bytes"] for s in shards) / 1e6
    timing = {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "text_mb": text_mb,
        "mb_per_s": text_mb / seconds,
        "mb_per_cpu_s": text_mb / cpu,
        "within_seconds": within_seconds,
    }
    return {**manifest, "_timing": timing}


def publish(out: Path, manifest: dict) -> None:
    """Write ``manifest.json`` (last, atomically): from then on the mixture exists."""
    write_json(out / MANIFEST, {k: v for k, v in manifest.items() if k != "_timing"})


def mix(spec: MixSpec, out: str | os.PathLike, overwrite: bool = False) -> dict:
    """Solve (failing fast when infeasible), then write and check the mixture in ``out``
    (a folder or a URL)."""
    corpus = open_corpus(spec)
    solution, selection = plan(spec, corpus, rounding_groups(corpus, spec.seed))
    with _output(out, overwrite, spec.storage_options) as folder:
        manifest = write_shards_checked(spec, corpus, solution, selection, folder)
        publish(folder, manifest)
    return manifest


def arm_name(level: float) -> str:
    return f"d{level:g}".replace(".", "_")


def sweep(
    spec: MixSpec, levels: list[float], out: str | os.PathLike, overwrite: bool = False
) -> dict:
    """One mixture per D1 level; every arm is solved before any is written, and every
    arm is written and checked before any manifest is published.

    The factual/other block's targets depend only on budget, share and corpus,
    and joint rounding never moves that group, so every arm takes the same
    factual documents; the sweep records and checks their digest. Arms are
    selected in level order, each within the counts of those before, so the
    procedural groups nest across arms.
    """
    if spec.max_epochs != 1:
        raise SpecError(
            f"max_epochs: a sweep repeats no document, so expected 1, found {spec.max_epochs}"
        )
    corpus = open_corpus(spec)
    groups = rounding_groups(corpus, spec.seed)
    arms = {level: spec.with_d1(level, f"{spec.name}-{arm_name(level)}") for level in levels}
    plans: dict[float, tuple[Solution, Selection]] = {}
    for level in sorted(arms):
        plans[level] = plan(arms[level], corpus, groups, [s for _, s in plans.values()])
    with _output(out, overwrite, spec.storage_options) as folder:
        return _write_sweep(spec, levels, corpus, arms, plans, folder)


def _write_sweep(
    spec: MixSpec,
    levels: list[float],
    corpus: Corpus,
    arms: dict[float, MixSpec],
    plans: dict[float, tuple[Solution, Selection]],
    out: Path,
) -> dict:
    manifests = [
        write_shards_checked(arms[level], corpus, *plans[level], out / arm_name(level))
        for level in levels
    ]
    results = [
        {"arm": arm_name(level), "d1_target": level, **_arm_row(manifest)}
        for level, manifest in zip(levels, manifests, strict=True)
    ]
    digests = {r["factual_other_sha256"] for r in results}
    if len(digests) != 1:
        raise MixError("sweep arms took different factual/other blocks")
    for level, manifest in zip(levels, manifests, strict=True):
        publish(out / arm_name(level), manifest)
    # Timings stay out of sweep.json so that reruns write identical files.
    write_json(
        out / SWEEP_FILE,
        {
            "name": spec.name,
            "levels": levels,
            "spec": spec.to_dict(),
            "arms": [{k: v for k, v in r.items() if k != "mb_per_s"} for r in results],
        },
    )
    # Every arm has the same tasks and corpus, so the same warnings.
    warnings = plans[levels[0]][0].warnings
    return {
        "name": spec.name,
        "levels": levels,
        "arms": results,
        "warnings": warnings,
        "decontamination": manifests[0]["decontamination"],
        "abstained": corpus.abstained,
    }


def _arm_row(manifest: dict) -> dict:
    a = manifest["achieved"]
    return {
        "tokens": a["tokens"],
        "procedural_share": a["procedural_share"],
        "d0": a["d0"],
        "d1": a["d1"],
        "d2": a["d2"],
        **({"d1_true": a["d1_true"]} if "d1_true" in a else {}),
        "within": a["within_diversity"]["combined"]["within"],
        "vs": a["within_diversity"]["combined"]["vs"],
        "vs_types": {t: e["vs"] for t, e in a["within_diversity"]["types"].items()},
        "docs": sum(s["rows"] for s in manifest["shards"]),
        "factual_other_sha256": manifest["blocks"]["factual_other"],
        "mb_per_s": manifest["_timing"]["mb_per_s"],
    }
