"""Joint rounding: whole-document counts per group that meet a mixture's targets together.

Each group (a procedural task type, or the factual/other block) first takes the
prefix of its merged order closest to its own target (``GroupOrder.closest``).
Every group is then within half a document, but small groups' errors still add
up in the figures verify checks: total tokens, procedural share, D1 and each
task share. A greedy search then moves procedural groups by one document at a
time (or two groups at once when no single move helps), within a few
documents of their closest count, taking the move that
that fails fewest checks and then most lowers the summed squared errors (each
error divided by verify's tolerance), until every figure is well inside its
tolerance or no move helps.
The factual/other group never moves, so it is the same in every arm of a sweep.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixtures import metrics
from mixtures.optimiser import Confusion
from mixtures.sampler import GroupOrder
from mixtures.verify import (
    D1_REL,
    SHARE_PP,
    TASK_MIN_SHARE,
    TASK_REL,
    TOKENS_REL,
    task_tolerance,
)

# How far (documents) a group may move from its closest count.
RADIUS = 3
# Stop once every figure's error is within this fraction of its tolerance.
GOOD_ENOUGH = 0.5
MAX_MOVES = 200


@dataclass(frozen=True)
class Goal:
    """What verify will hold the selection to."""

    tokens: int
    procedural_share: float
    d1: float | None
    task_shares: dict[str, float]  # planned shares of the procedural block
    task_tokens: dict[str, float]  # planned tokens of each procedural task type
    confusion: Confusion | None  # set when D1 is the expected true D1


@dataclass(frozen=True)
class Groups:
    """The groups' names (``procedural/<task>`` or ``factual+other``), each bucket's
    group, and the groups' merged orders."""

    names: list[str]
    bucket_group: np.ndarray
    order: GroupOrder

    def targets(self, bucket_targets: np.ndarray) -> np.ndarray:
        """Planned tokens per group from planned tokens per bucket."""
        return np.bincount(self.bucket_group, weights=bucket_targets, minlength=len(self.names))

    @property
    def tasks(self) -> list[str | None]:
        """Each group's procedural task type, or None for the factual/other block."""
        return [n.split("/", 1)[1] if n.startswith("procedural/") else None for n in self.names]


def errors(groups: Groups, counts: np.ndarray, goal: Goal) -> dict[str, float]:
    """Each checked figure's error divided by its tolerance (|e| <= 1 passes)."""
    tokens = np.array([groups.order.tokens(g, int(c)) for g, c in enumerate(counts)], float)
    procedural = {t: n for t, n in zip(groups.tasks, tokens, strict=True) if t is not None}
    total, proc = float(tokens.sum()), float(sum(procedural.values()))
    out = {
        "tokens": (total - goal.tokens) / (TOKENS_REL * goal.tokens),
        "procedural share": ((proc / total if total else 0.0) - goal.procedural_share) / SHARE_PP,
    }
    shares = metrics.shares(procedural)
    if goal.d1 is not None:
        p, name = list(shares.values()), "d1"
        if goal.confusion is not None:
            c, name = goal.confusion, "d1_true"
            p = list(metrics.corrected_shares(shares, c.labels, c.p_true_given_pred).values())
        out[name] = (metrics.hill(p, 1) - goal.d1) / (D1_REL * goal.d1)
    for g, task in enumerate(groups.tasks):
        planned = goal.task_shares.get(task, 0.0)
        if task is not None and planned > TASK_MIN_SHARE:
            tol = task_tolerance(goal.task_tokens[task], groups.order.typical_doc(g))
            out[f"task {task} share"] = (shares.get(task, 0.0) - planned) / (tol * planned)
    return out


def _score(e: dict[str, float]) -> tuple[int, float]:
    """Checks failed, then the summed squared errors: lower is better."""
    v = np.abs(np.fromiter(e.values(), float, len(e)))
    return int((v > 1).sum()), float((v**2).sum())


def _better(a: tuple[int, float], b: tuple[int, float]) -> bool:
    return a[0] < b[0] or (a[0] == b[0] and a[1] < b[1] - 1e-12)


def joint_counts(
    groups: Groups,
    targets: np.ndarray,
    goal: Goal,
    max_epochs: int,
    limits: list[tuple[int, int]] | None = None,
) -> np.ndarray:
    """A count per group: closest prefixes, then greedy one-document moves (of one
    group, or of two when no single move helps).

    ``limits`` (per group, inclusive) keeps a sweep's arms nested: an arm's count
    must lie between those of the arms with smaller and larger targets already
    chosen.
    """
    order = groups.order
    closest = np.array(
        [order.closest(g, t, max_epochs) for g, t in enumerate(targets)], dtype=np.int64
    )
    lo, hi = np.zeros_like(closest), np.zeros_like(closest)
    for g, task in enumerate(groups.tasks):
        top = max_epochs * order.size(g)
        if task is None or targets[g] <= 0:
            lo[g] = hi[g] = closest[g]
        else:
            # A group the plan gives a document keeps one, so D0 stays as planned.
            lo[g] = max(closest[g] - RADIUS, 1 if closest[g] > 0 else 0)
            hi[g] = min(closest[g] + RADIUS, top)
        if limits is not None:
            low, high = limits[g]
            lo[g], hi[g] = max(lo[g], low), min(hi[g], high)
            if lo[g] > hi[g]:  # nesting leaves no count near the closest: take the nearest
                lo[g] = hi[g] = min(max(closest[g], low), high)
    counts = np.clip(closest, lo, hi)
    e = errors(groups, counts, goal)
    singles = [((g, step),) for g in range(len(counts)) for step in (-1, 1)]
    pairs = [a + b for i, a in enumerate(singles) for b in singles[i + 1 :] if a[0][0] != b[0][0]]
    for _ in range(MAX_MOVES):
        if max(map(abs, e.values()), default=0.0) <= GOOD_ENOUGH:
            break
        # Pairs (one group up, another down, ...) only when no single move helps.
        move = _best_move(groups, counts, goal, e, singles, lo, hi)
        move = move or _best_move(groups, counts, goal, e, pairs, lo, hi)
        if move is None:
            break
        for g, step in move[0]:
            counts[g] += step
        e = move[1]
    return counts


def _best_move(
    groups: Groups,
    counts: np.ndarray,
    goal: Goal,
    e: dict[str, float],
    moves: list[tuple[tuple[int, int], ...]],
    lo: np.ndarray,
    hi: np.ndarray,
) -> tuple[tuple[tuple[int, int], ...], dict[str, float]] | None:
    """The move (steps of some groups) that most improves the score, with its errors."""
    best, best_score = None, _score(e)
    for move in moves:
        if not all(lo[g] <= counts[g] + step <= hi[g] for g, step in move):
            continue
        trial_counts = counts.copy()
        for g, step in move:
            trial_counts[g] += step
        trial = errors(groups, trial_counts, goal)
        if _better(_score(trial), best_score):
            best, best_score = (move, trial), _score(trial)
    return best


def nesting_limits(
    chosen: list[tuple[np.ndarray, np.ndarray]], targets: np.ndarray, top: np.ndarray
) -> list[tuple[int, int]]:
    """Per group, the counts that keep this arm nested with the arms ``chosen`` so far
    (pairs of their group targets and counts): at least any smaller target's count,
    at most any larger one's, and equal to an equal one's."""
    limits = []
    for g, target in enumerate(targets):
        lo, hi = 0, int(top[g])
        for other_targets, other_counts in chosen:
            if other_targets[g] <= target:
                lo = max(lo, int(other_counts[g]))
            if other_targets[g] >= target:
                hi = min(hi, int(other_counts[g]))
        limits.append((lo, hi))
    return limits


def granularity(
    groups: Groups, targets: np.ndarray, max_epochs: int
) -> dict[str, dict[str, float]]:
    """Per procedural task type: planned tokens, its documents' mean and typical
    (size-biased mean) tokens, the planned tokens in mean documents, and how far
    (relative) the prefix of its merged order nearest the plan is from it."""
    order, result = groups.order, {}
    for g, task in enumerate(groups.tasks):
        if task is not None and order.size(g):
            mean = order.mean_doc(g)
            result[task] = {
                "planned_tokens": float(targets[g]),
                "mean_doc_tokens": mean,
                "typical_doc_tokens": order.typical_doc(g),
                "planned_docs": float(targets[g] / mean) if mean else 0.0,
                "closest_error": _closest_error(order, g, targets[g], max_epochs),
            }
    return result


def _closest_error(order: GroupOrder, g: int, target: float, max_epochs: int) -> float:
    """How far (relative) the prefix of group g nearest its target is from it."""
    if target <= 0:
        return 0.0
    return float(order.tokens(g, order.closest(g, target, max_epochs)) - target) / target


def block_error(groups: Groups, targets: np.ndarray, max_epochs: int) -> float:
    """Tokens by which the factual/other block's nearest prefix misses its target: joint
    rounding never moves that block, so the budget check must absorb it."""
    g = groups.tasks.index(None) if None in groups.tasks else None
    if g is None or targets[g] <= 0:
        return 0.0
    order = groups.order
    return float(order.tokens(g, order.closest(g, targets[g], max_epochs)) - targets[g])


# Whole documents leave a figure up to half a document from its target, so a share
# held to TASK_REL needs about this many mean documents, and a budget held to
# TOKENS_REL (or a block's share to SHARE_PP) about MIN_BUDGET_DOCS.
MIN_PLANNED_DOCS = 1 / (2 * TASK_REL)
MIN_BUDGET_DOCS = 1 / (2 * min(TOKENS_REL, SHARE_PP))


def _amount(docs: float) -> str:
    """A count of mean documents, as words."""
    return f"{docs:.2g} of a mean document" if docs < 1 else f"{docs:.1f} mean documents"


def granularity_reasons(
    failed: list[str],
    granularity: dict[str, dict[str, float]],
    budget_docs: float,
    block_error_share: float,
) -> list[str]:
    """Why whole documents cannot give the ``failed`` checks (verify's check names).

    Named causes: a budget of too few typical (size-biased mean) documents of the
    corpus; a factual/other block whose nearest prefix alone misses the budget's
    tolerance (``block_error_share``: its error over the budget); task types planned
    at too few mean documents, or whose nearest prefix alone misses their share's
    tolerance. A failure none of these explains gets no reason.
    """
    reasons = []
    if any(n.startswith(("tokens", "procedural share")) for n in failed):
        if budget_docs < MIN_BUDGET_DOCS:
            reasons.append(
                f"granularity: the budget is {budget_docs:.1f} typical documents of the corpus "
                f"(size-biased mean; tokens within {TOKENS_REL:.1%} and the procedural share "
                f"within {SHARE_PP * 100:.1f} pp need about {MIN_BUDGET_DOCS:.0f})"
            )
        elif abs(block_error_share) > TOKENS_REL / 2:
            reasons.append(
                "granularity: the factual/other block's nearest whole-document prefix is "
                f"{block_error_share:+.2%} of the budget from its plan, which joint rounding "
                "cannot move (it is shared by every arm of a sweep)"
            )
    d1_failed = any(n.startswith("d1") for n in failed)
    by_docs = sorted(granularity.items(), key=lambda kv: (kv[1]["planned_docs"], kv[0]))
    for task, g in by_docs:
        if not g["planned_tokens"]:
            continue
        share_failed = any(n.startswith(f"task {task} share") for n in failed)
        tol = task_tolerance(g["planned_tokens"], g["typical_doc_tokens"])
        if (share_failed or d1_failed) and g["planned_docs"] < MIN_PLANNED_DOCS:
            reasons.append(
                f"granularity: task {task} is planned at {_amount(g['planned_docs'])} "
                f"(a {TASK_REL:.0%} share tolerance needs about {MIN_PLANNED_DOCS:.0f})"
            )
        elif (share_failed or d1_failed) and abs(g["closest_error"]) > tol / 2:
            reasons.append(
                f"granularity: task {task}'s nearest whole-document prefix is "
                f"{g['closest_error']:+.1%} from its plan ({_amount(g['planned_docs'])}, "
                f"typical document {g['typical_doc_tokens']:,.0f} tokens)"
            )
    return reasons
