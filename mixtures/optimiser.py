"""Tokens per bucket that hit the spec: a tempered path to the diversity target,
then a proportional split inside each task type.

Stage 1 works on task shares y of the procedural block: y(tau) = clip(c * pi^tau,
lo, hi) with sum 1, where pi are the natural shares; it is the minimum-KL
distribution at each entropy (MIXTURES.md section 4), tau = 0 is the capped
uniform and tau = 1 the natural mix. Brent's method finds the tau whose Hill
number D1 equals the target. Stage 2 splits each task's tokens over its
(source, task) buckets in proportion to what they hold: that makes the
conditional KL term zero (the exact optimum of the bucket-level problem, so no
LP or conic solver is needed), keeps each task's source shares at the
corpus's, and stays within every bucket's cap whenever the task's cap holds,
because caps are proportional to availability. The factual/other block is
split the same way and depends only on budget, share and corpus, which is what
pins it across a sweep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.optimize import brentq

from mixtures import metrics
from mixtures.corpus import BucketTable
from mixtures.spec import Diversity, TaskBounds

TAU_GRID = np.concatenate([[0.0], np.geomspace(1e-3, 1e3, 121)])
SHARE_TOL = 1e-12


class Infeasible(ValueError):
    """The spec cannot be met on this corpus; ``reasons`` name the binding constraints."""

    def __init__(self, reasons: list[str]):
        super().__init__("\n".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class Confusion:
    """P(true label j | predicted label i), rows and columns in ``labels`` order."""

    labels: list[str]
    p_true_given_pred: np.ndarray

    @classmethod
    def from_summary(cls, entry: dict) -> Confusion:
        matrix = np.asarray(entry["p_true_given_pred"], dtype=float)
        labels = list(entry["labels"])
        if matrix.shape != (len(labels), len(labels)):
            raise ValueError(
                f"p_true_given_pred: expected a {len(labels)}x{len(labels)} matrix, "
                f"found shape {matrix.shape}"
            )
        return cls(labels, matrix)


@dataclass(frozen=True)
class Problem:
    buckets: BucketTable
    tokens: int
    procedural_share: float
    diversity: Diversity = field(default_factory=Diversity)
    tasks: dict[str, TaskBounds] = field(default_factory=dict)
    max_epochs: int = 1
    confusion: Confusion | None = None

    @property
    def procedural_tokens(self) -> float:
        return self.procedural_share * self.tokens


@dataclass
class Solution:
    targets: np.ndarray  # tokens per bucket, float
    task_shares: dict[str, float]  # planned y over procedural task types
    tau: float | None
    planned: dict[str, float]  # d0, d1, d2 of the planned task shares (and d1_true)
    warnings: list[str] = field(default_factory=list)  # spec entries the corpus makes moot


@dataclass
class TaskPath:
    """The procedural task types with their natural shares and share bounds."""

    names: list[str]
    available: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    cap_by_availability: np.ndarray  # True where availability, not the spec's max, sets hi
    confusion: Confusion | None

    @property
    def natural(self) -> np.ndarray:
        return self.available / self.available.sum()

    def shares(self, tau: float) -> np.ndarray:
        """clip(c * natural^tau, lo, hi) summing to 1 (c found in log space)."""
        w = tau * np.log(self.natural)
        lo, hi = self.lo, self.hi

        def excess(log_c: float) -> float:
            return float(np.clip(np.exp(np.minimum(log_c + w, 700.0)), lo, hi).sum() - 1.0)

        a, b = -w.max() - 750.0, -w.min() + 50.0
        log_c = brentq(excess, a, b, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=400)
        return np.clip(np.exp(np.minimum(log_c + w, 700.0)), lo, hi)

    def d1(self, y: np.ndarray) -> float:
        if self.confusion is None:
            return metrics.hill(y, 1)
        true = metrics.corrected_shares(
            dict(zip(self.names, y, strict=True)),
            self.confusion.labels,
            self.confusion.p_true_given_pred,
        )
        return metrics.hill(list(true.values()), 1)

    @cached_property
    def curve(self) -> np.ndarray:
        """D1 at each tau of ``TAU_GRID``: brackets the target and gives the reachable range."""
        return np.array([self.d1(self.shares(t)) for t in TAU_GRID])


def task_path(problem: Problem) -> TaskPath:
    b = problem.buckets
    proc = b.procedural
    names = sorted({t for t, p in zip(b.task_type, proc, strict=True) if p})
    available = np.array(
        [b.tokens[proc & (np.array(b.task_type) == t)].sum() for t in names], dtype=float
    )
    block = problem.procedural_tokens
    avail_cap = problem.max_epochs * available / block if block else np.ones(len(names))
    spec_max = np.array([problem.tasks.get(t, TaskBounds()).max for t in names])
    lo = np.array([problem.tasks.get(t, TaskBounds()).min for t in names])
    return TaskPath(
        names=names,
        available=available,
        lo=lo,
        hi=np.minimum(avail_cap, spec_max),
        cap_by_availability=avail_cap <= spec_max,
        confusion=problem.confusion,
    )


def fmt_tokens(n: float) -> str:
    return f"{n:,.0f}"


def fmt_share(x: float, up: bool) -> str:
    """A share bound to 6 decimals, rounded inward (``up`` for a lower bound), so a
    printed range never claims a share that is not reachable."""
    scaled = x * 1e6
    return f"{(math.ceil(scaled - 1e-6) if up else math.floor(scaled + 1e-6)) / 1e6:.6f}"


@dataclass(frozen=True)
class Budget:
    """Procedural and factual/other tokens the corpus holds, and the shares they allow."""

    procedural: float
    rest: float
    max_epochs: int
    tokens: int

    @property
    def total(self) -> float:
        return self.procedural + self.rest

    @property
    def share_range(self) -> tuple[float, float]:
        r, n = self.max_epochs, self.tokens
        return max(0.0, 1 - r * self.rest / n), min(1.0, r * self.procedural / n)


def budget(problem: Problem) -> Budget:
    b = problem.buckets
    proc = b.procedural
    return Budget(
        float(b.tokens[proc].sum()),
        float(b.tokens[~proc].sum()),
        problem.max_epochs,
        problem.tokens,
    )


def _budget_reasons(problem: Problem) -> list[str]:
    held = budget(problem)
    r, n, a_p, a_np = held.max_epochs, held.tokens, held.procedural, held.rest
    p = problem.procedural_tokens
    lo, hi = held.share_range
    asked = f"{problem.procedural_share!r} of {fmt_tokens(n)}"
    reasons = []
    if n > r * held.total:
        reasons.append(
            f"tokens: {fmt_tokens(n)} asked; the corpus holds {fmt_tokens(held.total)} tokens "
            f"(x max_epochs {r}): lower tokens or raise max_epochs"
        )
    if p > r * a_p * (1 + SHARE_TOL):
        reasons.append(
            f"procedural_share: {asked} needs {fmt_tokens(p)} "
            f"procedural tokens; the corpus holds {fmt_tokens(a_p)} (x max_epochs {r}): "
            f"reachable share at this budget is at most {fmt_share(hi, up=False)}"
        )
    if n - p > r * a_np * (1 + SHARE_TOL):
        reasons.append(
            f"procedural_share: {asked} leaves {fmt_tokens(n - p)} "
            f"tokens for the factual/other block; the corpus holds {fmt_tokens(a_np)} "
            f"(x max_epochs {r}): reachable share at this budget is at least "
            f"{fmt_share(lo, up=True)}"
        )
    return reasons


def _task_reasons(problem: Problem, path: TaskPath) -> list[str]:
    reasons = []
    for task, bounds in problem.tasks.items():
        if task not in path.names and bounds.min > 0:
            reasons.append(
                f"tasks.{task}.min {bounds.min:g}: the corpus has no procedural {task} tokens "
                f"(it has {', '.join(path.names) or 'none'})"
            )
    for i, task in enumerate(path.names):
        if path.lo[i] > path.hi[i] + SHARE_TOL:
            reasons.append(
                f"tasks.{task}.min {path.lo[i]:g} needs "
                f"{fmt_tokens(path.lo[i] * problem.procedural_tokens)} tokens; the corpus holds "
                f"{fmt_tokens(path.available[i])} procedural {task} tokens "
                f"(x max_epochs {problem.max_epochs})"
            )
    if path.names and path.hi.sum() < 1 - 1e-9 and problem.tasks:
        reasons.append(
            f"tasks: the task types' max shares and availability add up to {path.hi.sum():.4f} "
            "of the procedural block, below 1: raise the max shares or lower the budget"
        )
    return reasons


def _at_bound(path: TaskPath, y: np.ndarray) -> str:
    parts = []
    for i, task in enumerate(path.names):
        if y[i] >= path.hi[i] - 1e-9 and path.hi[i] < 1:
            why = "all it holds" if path.cap_by_availability[i] else "its max share"
            parts.append(f"{task} at {path.hi[i]:.4f} ({why})")
        elif path.lo[i] > 0 and y[i] <= path.lo[i] + 1e-9:
            parts.append(f"{task} at its min share {path.lo[i]:.4f}")
    return "; ".join(parts)


def d1_range(path: TaskPath) -> tuple[float, float]:
    return float(path.curve.min()), float(path.curve.max())


def _diversity_reason(problem: Problem, path: TaskPath, target: float) -> str:
    lo, hi = d1_range(path)
    kind = "expected true D1 (noise-corrected)" if path.confusion else "D1"
    edge_tau = TAU_GRID[-1] if target < lo else 0.0
    binding = _at_bound(path, path.shares(edge_tau))
    if not binding:
        binding = (
            f"{len(path.names)} procedural task type(s) in the corpus"
            if target > hi
            else f"the largest task type {path.names[int(np.argmax(path.available))]}"
        )
    return (
        f"diversity.d1: {target:g} asked; {kind} reachable {lo:.3f}–{hi:.3f} with this corpus at "
        f"procedural share {problem.procedural_share:g} of {fmt_tokens(problem.tokens)} tokens "
        f"(binding: {binding})"
    )


def _solve_tau(path: TaskPath, target: float) -> float:
    diff = path.curve - target
    if abs(diff[0]) <= 1e-12 * target:
        return 0.0
    for i in range(len(TAU_GRID) - 1):
        if diff[i] == 0:
            return float(TAU_GRID[i])
        if diff[i] * diff[i + 1] <= 0:
            return float(
                brentq(
                    lambda t: path.d1(path.shares(t)) - target,
                    TAU_GRID[i],
                    TAU_GRID[i + 1],
                    xtol=1e-13,
                    rtol=1e-13,
                )
            )
    raise AssertionError("target inside the reachable range but not bracketed")


def bound_reasons(div: Diversity, planned: dict[str, float]) -> list[str]:
    """The D0 / D2 bounds that ``planned`` misses, with what to change."""
    reasons = []
    for q in ("d0", "d2"):
        lo, hi = getattr(div, f"{q}_min"), getattr(div, f"{q}_max")
        value = planned[q]
        if (lo is not None and value < lo - 1e-9) or (hi is not None and value > hi + 1e-9):
            reasons.append(
                f"diversity.{q}: {value:.3f} where the tempered path meets the D1 target; asked "
                f"[{lo if lo is not None else '-'}, {hi if hi is not None else '-'}]: not met on "
                "the tempered path; hold task types out with `max: 0` (tasks: {x: {max: 0}}) "
                "to lower it, give small task types a `min` share or raise d1 to raise it, "
                "or relax the bound"
            )
    return reasons


def _plan(problem: Problem, path: TaskPath) -> tuple[np.ndarray, float | None]:
    target = problem.diversity.d1
    if target is None:
        return path.shares(1.0), 1.0
    if len(path.names) == 1:
        if abs(target - 1.0) > 1e-9:
            raise Infeasible(
                [
                    f"diversity.d1: {target:g} asked; the corpus has one procedural task type "
                    f"({path.names[0]}), so D1 is 1 whatever the weights"
                ]
            )
        return np.ones(1), None
    lo, hi = d1_range(path)
    if not lo - 1e-9 * target <= target <= hi + 1e-9 * target:
        raise Infeasible([_diversity_reason(problem, path, target)])
    tau = _solve_tau(path, min(max(target, lo), hi))
    return path.shares(tau), tau


def _targets(problem: Problem, path: TaskPath | None, y: np.ndarray) -> np.ndarray:
    b = problem.buckets
    proc = b.procedural
    targets = np.zeros(len(b), dtype=float)
    tasks = np.array(b.task_type)
    for i, task in enumerate(path.names if path else []):
        members = proc & (tasks == task)
        targets[members] = y[i] * problem.procedural_tokens * b.tokens[members] / path.available[i]
    rest = float(b.tokens[~proc].sum())
    if rest:
        targets[~proc] = (problem.tokens - problem.procedural_tokens) * b.tokens[~proc] / rest
    return targets


def check(problem: Problem) -> tuple[TaskPath | None, list[str]]:
    """The task path and every reason the spec is infeasible (empty when it is feasible)."""
    reasons = _budget_reasons(problem)
    if problem.procedural_tokens <= 0:
        if problem.diversity.d1 is not None:
            reasons.append("diversity.d1: set, but procedural_share is 0 (no procedural block)")
        return None, reasons
    path = task_path(problem)
    if not path.names:
        reasons.append("procedural_share > 0 but the corpus has no procedural documents")
        return None, reasons
    return path, reasons + _task_reasons(problem, path)


def solve(problem: Problem) -> Solution:
    """Tokens per bucket; raises ``Infeasible`` naming the binding constraint."""
    path, reasons = check(problem)
    if reasons:
        raise Infeasible(reasons)
    names = path.names if path else []
    warnings = [
        f"tasks.{task}: not a procedural task type of this corpus (it has "
        f"{', '.join(names) or 'none'}): its bounds are ignored"
        for task in sorted(set(problem.tasks) - set(names))
    ]
    if path is None:
        return Solution(_targets(problem, None, np.zeros(0)), {}, None, {}, warnings)
    y, tau = _plan(problem, path)
    # A share worth less than a token selects nothing, so it does not count as present.
    d0 = float(np.count_nonzero(y * problem.procedural_tokens >= 1.0))
    planned = {"d0": d0, "d1": metrics.hill(y, 1), "d2": metrics.hill(y, 2)}
    if path.confusion is not None:
        planned["d1_true"] = path.d1(y)
    reasons = bound_reasons(problem.diversity, planned)
    if reasons:
        raise Infeasible(reasons)
    shares = {t: float(v) for t, v in zip(path.names, y, strict=True)}
    return Solution(_targets(problem, path, y), shares, tau, planned, warnings)
