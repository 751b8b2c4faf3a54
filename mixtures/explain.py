"""``explain``: what each target can reach on this corpus, and why a spec fails.

``mix`` prints the same reasons when it refuses an infeasible spec.
"""

from __future__ import annotations

from mixtures import metrics
from mixtures.corpus import Corpus
from mixtures.mix import open_corpus, plan, problem_for
from mixtures.optimiser import (
    Infeasible,
    Problem,
    budget,
    check,
    d1_range,
    fmt_share,
    fmt_tokens,
)
from mixtures.spec import MixSpec


def _ranges(problem: Problem, corpus: Corpus) -> list[str]:
    held = budget(problem)
    r, n = held.max_epochs, held.tokens
    lo, hi = held.share_range
    lines = [
        f"corpus {corpus.root}: {fmt_tokens(corpus.docs.num_rows)} documents, "
        f"{fmt_tokens(held.total)} tokens, {len(problem.buckets)} buckets; "
        f"null labels counted as other: {corpus.null_labels}",
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
    try:
        solution, _ = plan(spec, corpus)
    except Infeasible as e:
        return "\n".join([*lines, "infeasible:", *(f"  {r}" for r in e.reasons)]), False
    lines += [f"warning: {w}" for w in solution.warnings]
    planned = ", ".join(f"{k} {v:.4f}" for k, v in solution.planned.items())
    tau = f"tau {solution.tau:.6g}; " if solution.tau is not None else ""
    lines.append(f"feasible: {tau}planned {planned} (D0 and D2 of the documents selected)")
    return "\n".join(lines), True
