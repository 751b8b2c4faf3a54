"""``explain``: what each target can reach on this corpus, and why a spec fails.

``mix`` prints the same reasons when it refuses an infeasible spec.
"""

from __future__ import annotations

from mixtures import metrics
from mixtures.corpus import Corpus
from mixtures.mix import open_corpus, problem_for
from mixtures.optimiser import Infeasible, Problem, check, d1_range, solve
from mixtures.spec import MixSpec


def _n(x: float) -> str:
    return f"{x:,.0f}"


def _ranges(problem: Problem, corpus: Corpus) -> list[str]:
    b, r, n = problem.buckets, problem.max_epochs, problem.tokens
    proc = b.procedural
    a_p, a_np = float(b.tokens[proc].sum()), float(b.tokens[~proc].sum())
    lines = [
        f"corpus {corpus.root}: {_n(corpus.docs.num_rows)} documents, {_n(a_p + a_np)} tokens, "
        f"{len(b)} buckets; null labels counted as other: {corpus.null_labels}",
        f"tokens: {_n(n)} asked; reachable up to {_n(r * (a_p + a_np))} (max_epochs {r})",
        f"procedural_share: {problem.procedural_share:g} asked; reachable "
        f"{max(0.0, 1 - r * a_np / n):.4f}–{min(1.0, r * a_p / n):.4f} at {_n(n)} tokens",
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
            f" ({_n(path.available[i])} tokens)"
        )
    for task in sorted(set(problem.tasks) - set(path.names)):
        lines.append(f"  {task:<14} not a procedural task type of this corpus: bounds ignored")
    return lines


def explain(spec: MixSpec) -> tuple[str, bool]:
    """The report text and whether the spec is feasible."""
    corpus = open_corpus(spec)
    problem = problem_for(spec, corpus)
    lines = [f"spec {spec.name!r}", *_ranges(problem, corpus)]
    try:
        solution = solve(problem)
    except Infeasible as e:
        return "\n".join([*lines, "infeasible:", *(f"  {r}" for r in e.reasons)]), False
    planned = ", ".join(f"{k} {v:.4f}" for k, v in solution.planned.items())
    tau = f"tau {solution.tau:.6g}; " if solution.tau is not None else ""
    lines.append(f"feasible: {tau}planned {planned}")
    return "\n".join(lines), True
