"""Batch o: content type from more of each document. Variants, all unquantised, seed given:
  base         recipe C as the package builds it (reference)
  trainwin:K   each pooled training document also gives K extra 2000-char windows
               (evenly spaced offsets through the text), same label
  testwin:K    at test time, mean probability over the window plus K evenly spaced others
  bag:N        mean probability of N models trained on pools drawn with seeds s..s+N-1
Usage: exp15.py SEED VARIANT..."""

import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from classifiers.dataset import pool, read_docs
from classifiers.dev import DevPredictions, dev_report, labelled
from classifiers.loso import guarded_label
from classifiers.model import FastTextModel
from classifiers.preprocess import WINDOW_CHARS, preprocess
from classifiers.taxonomy import CONTENT_TYPE, LABELS
from classifiers.train import LineCache, TrainParams, fit

seed = int(sys.argv[1])
docs = list(read_docs(Path("/work/shared/data")))
dev = labelled(list(read_docs(Path("/work/shared/dev"))), CONTENT_TYPE)
cache = LineCache()
params = replace(TrainParams(seed=seed), word_vectors=None, kind="fasttext")
L = LABELS[CONTENT_TYPE]


def windows(text, k):
    """k extra windows at evenly spaced offsets (not the head), each WINDOW_CHARS long."""
    n = len(text)
    if n <= WINDOW_CHARS * 1.5:
        return []
    step = (n - WINDOW_CHARS) / (k + 1)
    return [text[int(step * (i + 1)) : int(step * (i + 1)) + WINDOW_CHARS] for i in range(k)]


def train(s, k=0):
    pairs = pool(docs, CONTENT_TYPE, params.cap_per_source, s)
    lines = cache.lines([d for d, _ in pairs])
    labels = [lab for _, lab in pairs]
    if k:
        extra = [(w, lab) for d, lab in pairs for w in windows(d.text, k)]
        lines = lines + preprocess([w for w, _ in extra])
        labels = labels + [lab for _, lab in extra]
        order = np.random.default_rng(s).permutation(len(lines))
        lines = [lines[i] for i in order]
        labels = [labels[i] for i in order]
    return FastTextModel(fit(lines, labels, replace(params, seed=s))), len(lines)


def score(name, proba, t0):
    r = dev_report(
        CONTENT_TYPE, DevPredictions.of(CONTENT_TYPE, dev, proba), guarded_label(CONTENT_TYPE)
    )
    p = r["per_class"]["procedural"]
    print(
        f"s{seed} {name}: dev cf {r['macro_f1']:.3f} P {p['precision']:.3f} R {p['recall']:.3f} "
        f"ECE {r['ece']:.3f} web {r['web']['macro_f1']:.3f}  ({time.time() - t0:.0f}s)",
        flush=True,
    )
    return r


def test_proba(model, k=0):
    base = model.probabilities(cache.lines(dev), L)
    if not k:
        return base
    out = base.copy()
    n = np.ones(len(dev))
    extra = [(i, w) for i, d in enumerate(dev) for w in windows(d.text, k)]
    if extra:
        pe = model.probabilities(preprocess([w for _, w in extra]), L)
        for (i, _), row in zip(extra, pe):
            out[i] += row
            n[i] += 1
    return out / n[:, None]


models = {}
for spec in sys.argv[2:]:
    t0 = time.time()
    name, _, arg = spec.partition(":")
    arg = int(arg or 0)
    if name == "base":
        m, n = models.setdefault(0, train(seed))
        score(f"base ({n} lines)", test_proba(m), t0)
    elif name == "trainwin":
        m, n = train(seed, arg)
        score(f"trainwin {arg} ({n} lines)", test_proba(m), t0)
        score(f"trainwin {arg} + testwin {arg}", test_proba(m, arg), t0)
    elif name == "testwin":
        m, _ = models.setdefault(0, train(seed))
        score(f"testwin {arg}", test_proba(m, arg), t0)
    elif name == "bag":
        ps = []
        for i in range(arg):
            m, _ = models.setdefault(i, train(seed + i))
            ps.append(test_proba(m))
        score(f"bag {arg}", np.mean(ps, axis=0), t0)
