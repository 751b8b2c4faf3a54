"""Sampler: deterministic, order-independent, nested, closest prefix; spec validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from mixtures.sampler import base_hashes, output_order, seeded_keys, select, shard_of
from mixtures.spec import SpecError, load_spec, parse_spec


def _docs(n=2000, buckets=4, seed=0):
    rng = np.random.default_rng(seed)
    keys = [f"file{i % 7}.jsonl:{i}" for i in range(n)]
    return keys, rng.integers(0, buckets, n), rng.integers(10, 1000, n)


def _select(keys, bucket, tokens, targets, seed, max_epochs=1):
    return select(base_hashes(keys), pa.array(keys), bucket, tokens, targets, seed, max_epochs)


def _order(keys, copies, structured, seed, structured_first):
    return output_order(
        base_hashes(keys), pa.array(keys), copies, structured, seed, structured_first
    )


def test_same_seed_same_selection_and_seed_matters():
    keys, bucket, tokens = _docs()
    targets = np.array([20_000.0, 50_000.0, 0.0, 80_000.0])
    a = _select(keys, bucket, tokens, targets, seed=3)
    assert np.array_equal(a, _select(keys, bucket, tokens, targets, seed=3))
    assert not np.array_equal(a, _select(keys, bucket, tokens, targets, seed=4))


def test_selection_does_not_depend_on_input_order():
    keys, bucket, tokens = _docs()
    targets = np.array([20_000.0, 50_000.0, 10_000.0, 80_000.0])
    copies = _select(keys, bucket, tokens, targets, seed=1)
    perm = np.random.default_rng(9).permutation(len(keys))
    shuffled = _select([keys[i] for i in perm], bucket[perm], tokens[perm], targets, seed=1)
    assert {keys[i] for i in perm[shuffled > 0]} == {keys[i] for i in np.flatnonzero(copies)}
    structured = bucket % 2 == 0
    order = _order(keys, copies, structured, 1, structured_first=False)
    order_p = _order([keys[i] for i in perm], shuffled, structured[perm], 1, False)
    assert [keys[d] for d in order[0]] == [keys[perm[d]] for d in order_p[0]]


def test_selection_is_nested_and_closest():
    keys, bucket, tokens = _docs()
    small = _select(keys, bucket, tokens, np.array([10_000.0, 30_000, 5_000, 1_000]), seed=2)
    large = _select(keys, bucket, tokens, np.array([40_000.0, 60_000, 5_000, 90_000]), seed=2)
    assert np.all(large >= small)
    for b, target in enumerate([40_000.0, 60_000, 5_000, 90_000]):
        taken = tokens[(bucket == b) & (large > 0)].sum()
        assert abs(taken - target) <= tokens[bucket == b].max() / 2


def test_repeats_take_whole_epochs_up_to_max_epochs():
    keys, bucket, tokens = _docs(200, buckets=1)
    held = tokens.sum()
    copies = _select(keys, bucket, tokens, np.array([held * 2.5]), seed=0, max_epochs=3)
    assert copies.min() == 2 and copies.max() == 3
    assert abs((tokens * copies).sum() - held * 2.5) <= tokens.max() / 2
    capped = _select(keys, bucket, tokens, np.array([held * 5.0]), seed=0, max_epochs=3)
    assert np.all(capped == 3)


def test_structured_first_and_repeated_rows():
    keys = [f"k{i}" for i in range(10)]
    copies = np.array([1, 2, 0, 1, 1, 1, 0, 1, 1, 1])
    structured = np.array([i < 5 for i in range(10)])
    doc, epoch = _order(keys, copies, structured, 0, structured_first=True)
    assert len(doc) == copies.sum()
    groups = structured[doc]
    assert groups[: groups.sum()].all() and not groups[groups.sum() :].any()
    assert sorted(zip(doc[doc == 1], epoch[doc == 1], strict=True)) == [(1, 0), (1, 1)]


def test_shards_by_rows_and_by_bytes():
    assert shard_of(np.ones(5), 2, None).tolist() == [0, 0, 1, 1, 2]
    assert shard_of(np.array([60, 60, 60, 10]), None, 100).tolist() == [0, 0, 1, 1]


def test_hash_streams_differ():
    base = base_hashes(["a", "b", "c"])
    assert not np.array_equal(seeded_keys(base, 0, 0), seeded_keys(base, 0, 1))
    assert not np.array_equal(seeded_keys(base, 0, 0), seeded_keys(base, 1, 0))


MINIMAL = {"name": "m", "corpus": "out/c", "tokens": 1000, "procedural_share": 0.3}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"tokens": "many"}, "tokens: expected an integer >= 1, found 'many'"),
        ({"procedural_share": 1.5}, "procedural_share: expected a number in [0.0, 1.0], found 1.5"),
        ({"order": "random"}, "order: expected shuffled or structured_first, found 'random'"),
        ({"diversity": {"d3": 2}}, "diversity: unknown key(s) ['d3']"),
        ({"tasks": {"math": {"min": 0.6, "max": 0.5}}}, "tasks.math: min (0.6) is above max (0.5)"),
        ({"shard": {"rows": 10, "mb": 1}}, "shard: expected exactly one of rows: N, bytes: N"),
        ({"shard": {"bytes": 0}}, "shard.bytes: expected an integer >= 1, found 0"),
        ({"labels": {"task": "x"}}, "labels: unknown key(s) ['task']"),
        ({"extra": 1}, "spec: unknown key(s) ['extra']"),
        ({"tasks": {"maths": {"max": 0.0}}}, "tasks: expected task types among ['math', 'code'"),
        ({"procedural_share": None}, "procedural_share: expected a number in [0.0, 1.0], found N"),
        ({"tokens": None}, "tokens: expected an integer >= 1, found None"),
        ({"corpus": None}, "corpus: expected a non-empty string, found None"),
        ({"name": None}, "name: expected a non-empty string, found None"),
        ({"shard": {"rows": None}}, "shard.rows: expected an integer >= 1, found None"),
        ({"shard": {"mb": None}}, "shard.mb: expected a number in [1e-06, 1000000000.0], found N"),
    ],
)
def test_spec_errors_say_expected_and_found(change, message):
    with pytest.raises(SpecError) as info:
        parse_spec({**MINIMAL, **change})
    assert message in str(info.value)


def test_spec_defaults_and_yaml(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: m\ncorpus: out/c\ntokens: 1e3\nprocedural_share: 0.3\n")
    with pytest.raises(SpecError, match="tokens: expected an integer"):
        load_spec(path)
    path.write_text("name: m\ncorpus: out/c\ntokens: 1000\nprocedural_share: 0.3\n")
    spec = load_spec(path)
    assert spec.corpus == str(tmp_path / "out" / "c")  # relative to the spec file's folder
    spec = load_spec(path, corpus="elsewhere")  # relative to the working directory
    assert spec.corpus == str(Path.cwd() / "elsewhere")
    assert spec.max_epochs == 1 and spec.order == "shuffled" and spec.seed == 0
    assert spec.labels == {"content_type": "content_type", "task_type": "task_type"}
    with pytest.raises(SpecError, match="required, missing"):
        parse_spec({"name": "m"})
    assert parse_spec({**MINIMAL, "seed": None, "tasks": {"math": {"max": None}}}).seed == 0
