"""Sampler: deterministic, order-independent, nested merged orders, closest prefix;
spec validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from mixtures.sampler import (
    GroupOrder,
    base_hashes,
    group_order,
    output_order,
    seeded_keys,
    shard_of,
)
from mixtures.spec import SpecError, load_spec, parse_spec


def _docs(n=2000, buckets=6, seed=0):
    rng = np.random.default_rng(seed)
    keys = [f"file{i % 7}.jsonl:{i}" for i in range(n)]
    tokens = np.ceil(rng.lognormal(5, 1.2, n)).astype(np.int64)
    return keys, rng.integers(0, buckets, n), tokens


# Buckets 0-2 form group 0, buckets 3-5 group 1.
BUCKET_GROUP = np.array([0, 0, 0, 1, 1, 1])


def _order(keys, bucket, tokens, seed) -> GroupOrder:
    return group_order(base_hashes(keys), pa.array(keys), bucket, BUCKET_GROUP, tokens, 2, seed)


def _taken(order: GroupOrder, counts, n) -> np.ndarray:
    return order.copies(np.array(counts), n)


def test_same_seed_same_order_and_seed_matters():
    keys, bucket, tokens = _docs()
    a = _order(keys, bucket, tokens, seed=3)
    assert np.array_equal(a.order, _order(keys, bucket, tokens, seed=3).order)
    assert not np.array_equal(a.order, _order(keys, bucket, tokens, seed=4).order)


def test_order_does_not_depend_on_input_order():
    keys, bucket, tokens = _docs()
    perm = np.random.default_rng(9).permutation(len(keys))
    a = _order(keys, bucket, tokens, seed=1)
    b = _order([keys[i] for i in perm], bucket[perm], tokens[perm], seed=1)
    assert [keys[i] for i in a.order] == [keys[perm[i]] for i in b.order]
    structured = bucket % 2 == 0
    copies = _taken(a, [300, 500], len(keys))
    shuffled = _taken(b, [300, 500], len(keys))
    doc, _ = output_order(base_hashes(keys), pa.array(keys), copies, structured, 1, False)
    keys_p = [keys[i] for i in perm]
    doc_p, _ = output_order(
        base_hashes(keys_p), pa.array(keys_p), shuffled, structured[perm], 1, False
    )
    assert [keys[d] for d in doc] == [keys[perm[d]] for d in doc_p]


def test_closest_prefix_is_within_half_its_boundary_document_and_nests():
    keys, bucket, tokens = _docs()
    order = _order(keys, bucket, tokens, seed=2)
    previous = np.zeros(len(keys), dtype=np.int64)
    for target in (5_000.0, 40_000.0, 41_000.0, 150_000.0):
        count = order.closest(0, target, max_epochs=1)
        got = order.tokens(0, count)
        members = order.order[order.bounds[0] : order.bounds[1]]
        # The prefix ends where the target falls: off by at most half the document there.
        boundary = tokens[members[min(count, len(members) - 1)]]
        before = tokens[members[count - 1]] if count else 0
        assert abs(got - target) <= max(boundary, before) / 2
        taken = _taken(order, [count, 0], len(keys))
        assert taken.sum() == count and np.all(taken >= previous)  # a larger target: a superset
        previous = taken


def test_every_prefix_holds_each_bucket_near_its_proportional_part():
    keys, bucket, tokens = _docs()
    order = _order(keys, bucket, tokens, seed=5)
    held = np.bincount(bucket, weights=tokens)
    for count in (50, 200, 333, 600):
        taken = _taken(order, [count, 0], len(keys)) > 0
        fraction = order.tokens(0, count) / held[:3].sum()
        for b in range(3):
            got = tokens[taken & (bucket == b)].sum()
            # Each bucket is within about one of its documents of the group's fraction.
            assert abs(got - fraction * held[b]) <= 2 * tokens[bucket == b].max()


def test_repeats_take_whole_epochs_up_to_max_epochs():
    keys, bucket, tokens = _docs(200)
    order = _order(keys, bucket, tokens, seed=0)
    held = tokens[BUCKET_GROUP[bucket] == 0].sum()
    count = order.closest(0, held * 2.5, max_epochs=3)
    copies = _taken(order, [count, 0], len(keys))
    in_group = BUCKET_GROUP[bucket] == 0
    assert copies[in_group].min() == 2 and copies[in_group].max() == 3
    assert not copies[~in_group].any()
    assert abs(order.tokens(0, count) - held * 2.5) <= tokens.max() / 2
    capped = order.closest(0, held * 5.0, max_epochs=3)
    assert np.all(_taken(order, [capped, 0], len(keys))[in_group] == 3)


def test_structured_first_and_repeated_rows():
    keys = [f"k{i}" for i in range(10)]
    copies = np.array([1, 2, 0, 1, 1, 1, 0, 1, 1, 1])
    structured = np.array([i < 5 for i in range(10)])
    doc, epoch = output_order(base_hashes(keys), pa.array(keys), copies, structured, 0, True)
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
        ({"decontaminate": "all"}, "decontaminate: expected a mapping {benchmarks: [NAME, ...] |"),
        (
            {"decontaminate": {"benchmarks": "gsm8k"}},
            "decontaminate.benchmarks: expected 'all' or a list of benchmark names",
        ),
        (
            {"decontaminate": {"benchmarks": ["gsm8k", "gsm8k"]}},
            "decontaminate.benchmarks: expected distinct benchmark names",
        ),
        (
            {"decontaminate": {"max_matched_ngrams": -1}},
            "decontaminate.max_matched_ngrams: expected an integer >= 0, found -1",
        ),
        ({"decontaminate": {"n": 13}}, "decontaminate: unknown key(s) ['n']"),
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
