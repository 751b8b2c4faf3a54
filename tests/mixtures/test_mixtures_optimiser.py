"""Optimiser: targets hit on synthetic bucket tables, edges, and infeasible explanations."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mixtures import metrics
from mixtures.corpus import BucketTable
from mixtures.optimiser import Confusion, Infeasible, Problem, d1_range, solve, task_path
from mixtures.spec import Diversity, TaskBounds
from support.synthetic import bucket_table

NATURAL = {
    ("a", "math"): [400_000, 100_000],
    ("b", "code"): [300_000],
    ("c", "cooking"): [80_000],
    ("d", "science"): [50_000, 20_000],
    ("e", "health"): [10_000],
}


def _problem(d1=None, tokens=1_000_000, share=0.3, **kw) -> Problem:
    return Problem(bucket_table(NATURAL), tokens, share, Diversity(d1=d1), **kw)


def _task_tokens(problem: Problem, targets: np.ndarray) -> dict[str, float]:
    b = problem.buckets
    out: dict[str, float] = {}
    for i in np.flatnonzero(b.procedural):
        out[b.task_type[i]] = out.get(b.task_type[i], 0.0) + targets[i]
    return out


@pytest.mark.parametrize("d1", [1.5, 2.0, 3.0, 4.0])
def test_hits_budget_share_and_diversity(d1):
    problem = _problem(d1)
    solution = solve(problem)
    b = problem.buckets
    assert solution.targets.sum() == pytest.approx(1_000_000, rel=1e-12)
    assert solution.targets[b.procedural].sum() == pytest.approx(300_000, rel=1e-12)
    assert metrics.hill_numbers(_task_tokens(problem, solution.targets))["d1"] == pytest.approx(
        d1, rel=1e-9
    )
    assert np.all(solution.targets <= b.tokens * problem.max_epochs * (1 + 1e-12))


def test_split_inside_a_task_follows_the_corpus():
    solution = solve(_problem(3.0))
    b = bucket_table(NATURAL)
    math = [i for i in range(len(b)) if b.task_type[i] == "math"]
    ratio = solution.targets[math] / b.tokens[math]
    assert ratio == pytest.approx(np.full(2, ratio[0]))


def test_no_target_keeps_natural_shares():
    solution = solve(_problem(None, tokens=3_000_000))
    total = sum(sum(v) for v in NATURAL.values())
    assert solution.task_shares["math"] == pytest.approx(500_000 / total)


def test_one_task_type_only():
    table = bucket_table({("a", "math"): [500_000, 200_000]})
    assert solve(Problem(table, 1_000_000, 0.3, Diversity(d1=1.0))).planned["d1"] == 1.0
    with pytest.raises(Infeasible, match="one procedural task type \\(math\\)"):
        solve(Problem(table, 1_000_000, 0.3, Diversity(d1=2.0)))


@pytest.mark.parametrize("edge", [0, 1])
def test_target_at_the_feasible_edge(edge):
    problem = _problem()
    target = d1_range(task_path(problem))[edge]
    solution = solve(_problem(target))
    assert solution.planned["d1"] == pytest.approx(target, rel=1e-6)


def test_caps_bound_the_upper_end():
    problem = _problem()
    lo, hi = d1_range(task_path(problem))
    # health holds 10k tokens: 1/30 of the 300k procedural block, so uniform (5.0) is out of reach
    assert hi < 5.0
    with pytest.raises(Infeasible) as info:
        solve(_problem(hi * 1.05))
    message = str(info.value)
    assert f"reachable {lo:.3f}–{hi:.3f}" in message
    assert "health at 0.0333 (all it holds)" in message


def test_infeasible_budget_and_share_name_the_constraint():
    with pytest.raises(Infeasible, match="procedural_share: 0.99 of 1,000,000 needs 990,000"):
        solve(_problem(2.0, share=0.99))
    with pytest.raises(Infeasible, match="tokens: 99,000,000 asked; the corpus holds"):
        solve(_problem(2.0, tokens=99_000_000))
    # 960,000 procedural tokens of 1,000,003: 0.96 is just out of reach, and says so.
    with pytest.raises(Infeasible, match=r"0.96 of 1,000,003 .* at most 0.959997$"):
        solve(_problem(2.0, tokens=1_000_003, share=0.96))


def test_task_bounds():
    bounds = {"math": TaskBounds(max=0.3), "cooking": TaskBounds(min=0.2)}
    solution = solve(_problem(3.0, tasks=bounds))
    assert solution.task_shares["math"] <= 0.3 + 1e-12
    assert solution.task_shares["cooking"] >= 0.2 - 1e-12
    assert solution.planned["d1"] == pytest.approx(3.0)
    with pytest.raises(Infeasible, match="tasks.health.min 0.5 needs 150,000 tokens"):
        solve(_problem(3.0, tasks={"health": TaskBounds(min=0.5)}))


def test_d2_bound_is_checked():
    with pytest.raises(Infeasible, match="diversity.d2: .* not met on the tempered path; hold"):
        solve(Problem(bucket_table(NATURAL), 1_000_000, 0.3, Diversity(d1=3.0, d2_max=1.5)))


def test_noise_correction_targets_expected_true_d1():
    labels = ["code", "cooking", "health", "math", "science"]
    noisy = np.full((5, 5), 0.05) + np.eye(5) * 0.75
    confusion = Confusion(labels, noisy)
    solution = solve(_problem(2.5, confusion=confusion))
    assert solution.planned["d1_true"] == pytest.approx(2.5, rel=1e-9)
    # label noise spreads the true shares: the predicted mix must be less diverse
    assert solution.planned["d1"] < 2.5
    identity = solve(_problem(2.5, confusion=Confusion(labels, np.eye(5))))
    assert identity.task_shares == pytest.approx(solve(_problem(2.5)).task_shares)


def test_500_buckets_solve_within_two_seconds():
    rng = np.random.default_rng(1)
    tasks = [f"task{k}" for k in range(12)]
    rows = [
        (
            f"s{i}",
            "procedural" if i % 2 else "factual",
            tasks[i % 12],
            100,
            int(rng.integers(10_000, 5_000_000)),
        )
        for i in range(500)
    ]
    table = BucketTable.from_rows(rows)
    started = time.perf_counter()
    solution = solve(Problem(table, 100_000_000, 0.3, Diversity(d1=6.0)))
    assert time.perf_counter() - started < 2.0
    assert solution.planned["d1"] == pytest.approx(6.0, rel=1e-9)


@pytest.mark.parametrize("d1", [2.0, 3.5])
def test_tempered_shares_are_the_least_kl_at_the_target(d1):
    from scipy.optimize import minimize

    problem = _problem(d1, tasks={"math": TaskBounds(max=0.45)})
    path = task_path(problem)
    ours = np.array([solve(problem).task_shares[t] for t in path.names])
    pi = path.natural

    def kl(y):
        y = np.clip(y, 1e-15, 1)
        return float((y * np.log(y / pi)).sum())

    constraints = [
        {"type": "eq", "fun": lambda y: y.sum() - 1},
        {"type": "eq", "fun": lambda y: metrics.entropy(np.clip(y, 1e-15, 1)) - np.log(d1)},
    ]
    bounds = list(zip(path.lo, np.minimum(path.hi, 1.0), strict=True))
    best = min(
        (
            minimize(kl, start, method="SLSQP", bounds=bounds, constraints=constraints)
            for start in (ours, np.full(len(pi), 1 / len(pi)), pi)
        ),
        key=lambda r: r.fun if r.success else np.inf,
    )
    assert best.success
    assert kl(ours) <= best.fun + 1e-6


def test_a_task_type_can_be_held_out():
    solution = solve(_problem(2.5, tasks={"math": TaskBounds(max=0.0)}))
    assert solution.task_shares["math"] == 0.0
    assert solution.planned["d0"] == 4
    assert solution.planned["d1"] == pytest.approx(2.5)
