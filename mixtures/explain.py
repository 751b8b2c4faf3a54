"""``explain``: what each target can reach on this corpus, and why a spec fails.

``mix`` prints the same reasons when it refuses an infeasible spec.
"""

from __future__ import annotations

import math

from mixtures import metrics
from mixtures.cli import EXIT_INFEASIBLE, format_abstention, format_decontamination
from mixtures.corpus import Corpus
from mixtures.mix import Selection, goal_for, open_corpus, plan, problem_for, rounding_groups
from mixtures.optimiser import (
    Infeasible,
    Problem,
    Solution,
    budget,
    check,
    d1_range,
    fmt_share,
    fmt_tokens,
)
from mixtures.rounding import MIN_PLANNED_DOCS, errors
from mixtures.spec import MixSpec
from mixtures.verify import TASK_MIN_SHARE, TASK_REL, task_tolerance


def _ranges(problem: Problem, corpus: Corpus) -> list[str]:
    held = budget(problem)
    r, n = held.max_epochs, held.tokens
    lo, hi = held.share_range
    lines = [
        f"corpus {corpus.root}: {fmt_tokens(corpus.docs.num_rows)} documents, "
        f"{fmt_tokens(held.total)} tokens, {len(problem.buckets)} buckets; "
        f"null labels counted as other: {corpus.null_labels}",
        format_decontamination(corpus.decontamination.exclusion(), table=False),
        *([format_abstention(corpus.abstained)] if corpus.abstained is not None else []),
        f"tokens: {fmt_tokens(n)} asked; reachable up to {fmt_tokens(r * held.total)} "
        f"(max_epochs {r})",
        f"procedural_share: {problem.procedural_share!r} asked; reachable "
        f"{fmt_share(lo, up=True)}–{fmt_share(hi, up=False)} at {fmt_tokens(n)} tokens",
    ]
    path, reasons = check(problem)
    if path is None or reasons:
        return lines
    natural = metrics.hill(path.natural, 1)
    lo, hi = d1_range(path)
    kind = "expected true D1 (noise-corrected)" if path.confusion else "D1"
    target = problem.diversity.d1
    asked = f"{target:g} asked" if target is not None else "not set (natural shares)"
    lines.append(
        f"diversity.d1: {asked}; {kind} reachable {lo:.3f}–{hi:.3f} with this corpus at "
        f"procedural share {problem.procedural_share:g} (corpus's own D1 {natural:.3f})"
    )
    lines.append("task shares of the procedural block (reachable min–max; corpus share):")
    for i, task in enumerate(path.names):
        lines.append(
            f"  {task:<14} {path.lo[i]:.4f}–{min(path.hi[i], 1.0):.4f}; "
            f"corpus {path.natural[i]:.4f}"
            f" ({fmt_tokens(path.available[i])} tokens)"
        )
    return lines


def explain(spec: MixSpec) -> tuple[str, bool]:
    """The report text and whether the spec is feasible."""
    corpus = open_corpus(spec)
    problem = problem_for(spec, corpus)
    lines = [f"spec {spec.name!r}", *_ranges(problem, corpus)]
    groups = rounding_groups(corpus, spec.seed)
    try:
        solution, selection = plan(spec, corpus, groups)
    except Infeasible as e:
        return "\n".join([*lines, "infeasible:", *(f"  {r}" for r in e.reasons)]), False
    lines += [f"warning: {w}" for w in solution.warnings]
    planned = ", ".join(f"{k} {v:.4f}" for k, v in solution.planned.items())
    tau = f"tau {solution.tau:.6g}; " if solution.tau is not None else ""
    lines.append(f"feasible: {tau}planned {planned} (D0 and D2 of the documents selected)")
    lines += _granularity(
        spec,
        solution,
        selection,
        errors(groups, selection.counts, goal_for(spec, corpus, solution, groups)),
    )
    return "\n".join(lines), True


def _granularity(
    spec: MixSpec, solution: Solution, selection: Selection, error: dict[str, float]
) -> list[str]:
    """Planned tokens per task type in mean documents, and the targets whole documents
    miss (``error`` is each checked figure's error over its tolerance)."""
    lines = ["whole documents (planned tokens per task type, in mean documents of that type):"]
    for task, g in sorted(selection.granularity.items()):
        share, docs = solution.task_shares.get(task, 0.0), g["planned_docs"]
        tol = task_tolerance(g["planned_tokens"], g["typical_doc_tokens"])
        if share <= TASK_MIN_SHARE:
            held = f"share not checked (under {TASK_MIN_SHARE:.0%})"
        elif tol > TASK_REL:
            held = f"share held to {tol:.1%} (half a typical document; too few for {TASK_REL:.0%})"
        else:
            held = f"share held to {tol:.0%}"
        lines.append(f"  {task:<14} share {share:.4f}: {docs:,.1f} mean documents; {held}")
    missed = {name: e for name, e in error.items() if abs(e) > 1}
    if not missed:
        lines.append("every checked target is met to tolerance by the selected documents")
        return lines
    lines.append(
        "whole documents cannot meet: "
        + ", ".join(f"{name} ({abs(e):.1f}x its tolerance)" for name, e in missed.items())
        + f"; mix would exit {EXIT_INFEASIBLE} without a manifest"
    )
    planned = {t: g["planned_docs"] for t, g in selection.granularity.items() if g["planned_docs"]}
    coarse = {t: d for t, d in planned.items() if d < MIN_PLANNED_DOCS}
    if coarse:
        fewest = min(coarse.values())
        need = math.ceil(spec.tokens * MIN_PLANNED_DOCS / fewest)
        names = ", ".join(sorted(coarse))
        lines.append(
            f"what would: tokens >= {fmt_tokens(need)} (gives every task type "
            f"{MIN_PLANNED_DOCS:.0f} mean documents), or leave out {names} "
            "(tasks: {TASK: {max: 0}}), or a coarser D1 target or tolerance"
        )
    else:
        lines.append("what would: a larger token budget, or a D1 target nearer the corpus's own")
    return lines
