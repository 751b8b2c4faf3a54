"""MinHash signatures: the vectorised shingling matches the definition, estimates track Jaccard."""

from __future__ import annotations

import random

import numpy as np

from pipeline.minhash import (
    minhash_signatures,
    normalized_words,
    shingle_hashes,
    shingle_jaccards,
    shingles,
)
from support.data import read_jsonl_gz


def test_normalisation_folds_case_punctuation_and_space():
    assert normalized_words("Don’t  STOP—the “café”,\tnaïve\u00a0x_y 3.14") == [
        "don", "t", "stop", "the", "café", "naïve", "x_y", "3", "14",
    ]  # fmt: skip
    assert normalized_words(" ... ") == []


def test_vectorised_shingles_match_the_python_definition(data_dir):
    texts = [r["text"] for r in read_jsonl_gz("tldr.jsonl.gz", 300)] + ["one two", "", "!!"]
    hashes, offsets = shingle_hashes(texts)
    for i, text in enumerate(texts):
        distinct = len(set(hashes[offsets[i] : offsets[i + 1]].tolist()))
        assert distinct == len(shingles(text)), text[:80]


def test_estimated_jaccard_tracks_true_jaccard(data_dir):
    rng = random.Random(0)
    docs = [r["text"] for r in read_jsonl_gz("gutenberg_chess.jsonl.gz", 200)]
    originals, variants = [], []
    for text in docs:
        words = text.split()
        edited = [w if rng.random() > 0.05 else "zzz" + w for w in words]
        originals.append(text)
        variants.append(" ".join(edited))
    sig_a, _ = minhash_signatures(originals)
    sig_b, _ = minhash_signatures(variants)
    estimated = (sig_a == sig_b).mean(axis=1)
    true = np.array(
        [
            len(shingles(a) & shingles(b)) / len(shingles(a) | shingles(b))
            for a, b in zip(originals, variants, strict=True)
        ]
    )
    # 128 permutations: standard error ~0.04 per pair; the mean error must be tiny.
    assert abs((estimated - true).mean()) < 0.02
    assert np.abs(estimated - true).max() < 0.2


def test_signatures_are_deterministic_and_seeded():
    texts = ["the quick brown fox jumps over the lazy dog"] * 2 + ["another text entirely here"]
    a, has = minhash_signatures(texts, seed=1)
    b, _ = minhash_signatures(texts, seed=1)
    c, _ = minhash_signatures(texts, seed=2)
    assert (a == b).all() and (a[0] == a[1]).all() and not (a[0] == a[2]).all()
    assert not (a == c).all()
    assert has.all()


def test_short_texts_are_densified_and_report_their_filled_bins(data_dir):
    rng = random.Random(1)
    # Dictionary entries are short: most leave bins empty for densification.
    docs = [r["text"] for r in read_jsonl_gz("wordnet.jsonl.gz", 400)]
    variants = [" ".join(w if rng.random() > 0.03 else "zzz" for w in t.split()) for t in docs]
    sig_a, filled = minhash_signatures(docs + ["", "one"])
    sig_b, _ = minhash_signatures(variants)
    assert filled[-2] == 0 and (sig_a[-2] == 0xFFFFFFFF).all()
    assert filled[-1] == 1 and not (sig_a[-1] == 0xFFFFFFFF).any()
    assert (filled[:-2] < 128).mean() > 0.5
    true = np.array(
        [
            len(shingles(a) & shingles(b)) / len(shingles(a) | shingles(b))
            for a, b in zip(docs, variants, strict=True)
        ]
    )
    estimated = (sig_a[:-2] == sig_b).mean(axis=1)
    assert abs((estimated - true).mean()) < 0.03


def test_exact_jaccards_match_the_set_definition(data_dir):
    rng = random.Random(2)
    docs = [r["text"] for r in read_jsonl_gz("medquad.jsonl.gz", 150)]
    edited = [" ".join(w if rng.random() > 0.1 else "x" for w in t.split()) for t in docs]
    texts = docs + edited + ["", "!!"]
    n = len(docs)
    pairs = [(i, n + i) for i in range(n)] + [(i, i + 1) for i in range(n - 1)]
    pairs += [(2 * n, 2 * n + 1), (0, 2 * n)]
    expected = []
    for a, b in pairs:
        sa, sb = shingles(texts[a]), shingles(texts[b])
        expected.append(len(sa & sb) / len(sa | sb) if sa | sb else 1.0)
    got = shingle_jaccards(texts, np.array(pairs))
    assert np.allclose(got, expected)
    assert 0.0 < got[:n].mean() < 1.0 and got[-2] == 1.0 and got[-1] == 0.0
