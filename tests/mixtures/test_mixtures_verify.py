"""verify's tolerances where the sampler rounds by whole documents: source and task shares."""

from __future__ import annotations

from mixtures.verify import source_checks, target_checks


def _bucket(source: str, target: float, docs: int, tokens: int) -> dict:
    return {
        "source": source,
        "content_type": "procedural",
        "task_type": "reasoning",
        "available_docs": docs,
        "available_tokens": tokens,
        # Documents of one size: the size-biased mean is the mean.
        "typical_doc_tokens": tokens / docs,
        "target_tokens": target,
    }


def _check(big: float, small: float, tiny: float, tiny_doc: int) -> tuple[str, float, bool]:
    # Planned: 10,000 tokens, 3 % of them in one source whose documents are far larger.
    planned = {"big": 6_000.0, "small": 3_700.0, "tiny": 300.0}
    solution = {
        "buckets": [
            _bucket("big", planned["big"], 100, 100_000),
            _bucket("small", planned["small"], 100, 50_000),
            _bucket("tiny", planned["tiny"], 1, tiny_doc),
        ],
        "source_shares": {"procedural/reasoning": {s: t / 10_000 for s, t in planned.items()}},
    }
    realised = {"big": big, "small": small, "tiny": tiny}
    tokens = {(s, "procedural", "reasoning"): t for s, t in realised.items() if t}
    docs = {(s, "procedural", "reasoning"): 150 for s, t in realised.items() if t}
    (check,) = source_checks({"source_tolerance": 0.01}, solution, tokens, docs)
    return check.name, check.expected, check.ok


def test_source_shares_are_checked_to_the_tolerance_plus_whole_document_rounding():
    # Big's documents are 1,000 tokens, small's 500: each bucket may be off by half a
    # document; tiny's 300 planned tokens are one 5,000-token document, so none is
    # placed and its whole 3 % share may go.
    name, allowed, ok = _check(6_000, 3_700, 0, tiny_doc=5_000)
    assert (
        ok
        and name == "source shares in procedural/reasoning within 0.01 plus rounding (worst: tiny)"
    )
    assert allowed == 0.04
    # Big a document and a half over: its share may reach 6,500 / (6,500 + 3,450) plus
    # the tolerance, and 7,500 / 11,200 is more.
    name, allowed, ok = _check(7_500, 3_700, 0, tiny_doc=5_000)
    assert not ok and name.endswith("(worst: big)")
    assert allowed == round(6_500 / 9_950 - 0.6 + 0.01, 5)


def test_a_group_of_small_documents_is_held_close_to_plan():
    assert _check(6_000, 3_700, 300, tiny_doc=400)[2]
    # Two documents over: small's share falls to 0.308, below the lowest its rounding allows.
    name, allowed, ok = _check(8_000, 3_700, 300, tiny_doc=400)
    assert not ok and name.endswith("(worst: small)")
    assert allowed == round(0.37 - 3_450 / (3_450 + 6_500 + 500) + 0.01, 5)


def _task_check(reasoning_got: float) -> tuple[str, bool, object]:
    # Reasoning planned at 4,410 of 300,000 procedural tokens, in documents whose
    # size-biased mean is 800 tokens, beside a task of thousands of documents.
    solution = {
        "task_shares": {"reasoning": 4_410 / 300_000, "math": 295_590 / 300_000},
        "granularity": {
            "reasoning": {"planned_tokens": 4_410.0, "typical_doc_tokens": 800.0},
            "math": {"planned_tokens": 295_590.0, "typical_doc_tokens": 900.0},
        },
    }
    total = reasoning_got + 295_590
    got = {"task_shares": {"reasoning": reasoning_got / total, "math": 295_590 / total}}
    spec = {
        "tokens": 300_000,
        "procedural_share": 1.0,
        "diversity": {"d1": None, "d0_min": None, "d0_max": None, "d2_min": None, "d2_max": None},
        "noise_correction": False,
        "tasks": {},
    }
    tokens_and_share = {"tokens": 300_000, "procedural_share": 1.0, **got}
    checks = target_checks(spec, solution, tokens_and_share)
    checks = {c.name.split(" share")[0]: c for c in checks}
    return checks["task reasoning"].name, checks["task reasoning"].ok, checks["task math"]


def test_a_task_of_few_documents_is_checked_to_half_a_typical_document():
    # Half of an 800-token document is 9.1 % of 4,410: 6 % under passes.
    name, ok, math = _task_check(4_410 * 0.94)
    assert ok and name == "task reasoning share within 9.1% relative (half a typical document)"
    assert math.ok and math.name == "task math share within 5.0% relative"
    # A whole document (18 %) short is more than whole documents explain.
    assert not _task_check(4_410 - 800)[1]
