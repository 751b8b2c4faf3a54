"""Batch p: distil a bag of content models into one fastText model (soft labels as repeated
label tokens: fastText's softmax loss picks one of a line's labels at random per visit, so the
expected gradient is the soft-label cross-entropy's). Usage: exp16.py SEED N VARIANT...
  bag            the teacher: mean probability of N models (pools drawn with seeds s..s+N-1)
  own:K          student on the seed's own pool, K label tokens per line
  union:K        student on the union of the N pools (each distinct doc once)
  extra:K:M      union plus M documents drawn from all of ../shared/data (labelled or not)"""

import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from classifiers.dataset import pool, read_docs
from classifiers.dev import DevPredictions, dev_report, labelled
from classifiers.loso import guarded_label
from classifiers.model import PREFIX, FastTextModel
from classifiers.taxonomy import CONTENT_TYPE, LABELS
from classifiers.train import LineCache, TrainParams, fit

seed, N = int(sys.argv[1]), int(sys.argv[2])
docs = list(read_docs(Path("/work/shared/data")))
dev = labelled(list(read_docs(Path("/work/shared/dev"))), CONTENT_TYPE)
cache = LineCache()
params = replace(TrainParams(seed=seed), word_vectors=None, kind="fasttext")
L = LABELS[CONTENT_TYPE]


def score(name, proba, t0):
    r = dev_report(
        CONTENT_TYPE, DevPredictions.of(CONTENT_TYPE, dev, proba), guarded_label(CONTENT_TYPE)
    )
    p = r["per_class"]["procedural"]
    print(
        f"s{seed} N{N} {name}: dev cf {r['macro_f1']:.3f} P {p['precision']:.3f} R {p['recall']:.3f} "
        f"ECE {r['ece']:.3f} web {r['web']['macro_f1']:.3f}  ({time.time() - t0:.0f}s)",
        flush=True,
    )


t0 = time.time()
pools = [pool(docs, CONTENT_TYPE, params.cap_per_source, seed + i) for i in range(N)]
teachers = []
for i, pairs in enumerate(pools):
    m = fit(
        cache.lines([d for d, _ in pairs]),
        [lab for _, lab in pairs],
        replace(params, seed=seed + i),
    )
    teachers.append(FastTextModel(m))


def teach(ds):
    return np.mean([t.probabilities(cache.lines(ds), L) for t in teachers], axis=0)


score("bag (teacher)", teach(dev), t0)


def soft(p, k):
    """k label tokens in proportion to p (largest remainder)."""
    c = np.floor(p * k).astype(int)
    rest = k - c.sum()
    for j in np.argsort(-(p * k - c))[:rest]:
        c[j] += 1
    return f" {PREFIX}".join(L[j] for j in range(len(L)) for _ in range(c[j]))


def student(name, ds, k, t0):
    ds = list(ds)
    random.Random(seed).shuffle(ds)
    p = teach(ds)
    labels = [soft(row, k) for row in p]
    m = FastTextModel(fit(cache.lines(ds), labels, params))
    score(f"{name} ({len(ds)} docs)", m.probabilities(cache.lines(dev), L), t0)


for spec in sys.argv[3:]:
    t0 = time.time()
    name, *args = spec.split(":")
    if name == "own":
        student(f"own k{args[0]}", [d for d, _ in pools[0]], int(args[0]), t0)
    elif name == "union":
        u = list({id(d): d for pairs in pools for d, _ in pairs}.values())
        student(f"union k{args[0]}", u, int(args[0]), t0)
    elif name == "extra":
        u = {id(d): d for pairs in pools for d, _ in pairs}
        rest = [d for d in docs if id(d) not in u]
        add = random.Random(seed).sample(rest, int(args[1]))
        student(f"extra k{args[0]} +{args[1]}", list(u.values()) + add, int(args[0]), t0)
