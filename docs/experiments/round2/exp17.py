"""Batch q: diverse teachers for the content student. Teachers: fastText on pools s, s+1
(as shipped) plus optional others; the student is fastText on pool s, 20 label tokens.
Usage: exp17.py SEED VARIANT...
  ship        teachers ft(s), ft(s+1)
  layer       + the word-table layer (softmax regression) on pool s
  char        + fastText with char n-grams 3-5 on pool s+2
  dim32       + fastText dim 32 epoch 10 on pool s+2"""

import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
import tempfile

import fasttext

from classifiers import static
from classifiers.dataset import pool, read_docs
from classifiers.dev import DevPredictions, dev_report, labelled
from classifiers.loso import guarded_label
from classifiers.model import FastTextModel
from classifiers.taxonomy import CONTENT_TYPE, LABELS
from classifiers.train import LineCache, TrainParams, fit, soft_labels

seed = int(sys.argv[1])
docs = list(read_docs(Path("/work/shared/data")))
dev = labelled(list(read_docs(Path("/work/shared/dev"))), CONTENT_TYPE)
cache = LineCache()
params = replace(TrainParams(seed=seed), word_vectors=None, kind="fasttext")
L = LABELS[CONTENT_TYPE]
pools = [
    cache.examples(pool(docs, CONTENT_TYPE, params.cap_per_source, seed + i)) for i in range(3)
]
devl = cache.lines(dev)


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


def ft(i, **kw):
    x, y = pools[i]
    if kw.get("minn"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "t.txt"
            path.write_text("".join(f"__label__{b} {a}\n" for a, b in zip(x, y)))
            m = fasttext.train_supervised(
                input=str(path),
                epoch=5,
                lr=0.5,
                dim=16,
                wordNgrams=2,
                minCount=2,
                bucket=1_000_000,
                thread=1,
                seed=seed + i,
                verbose=0,
                minn=3,
                maxn=5,
            )
        return FastTextModel(m)
    return FastTextModel(fit(x, y, replace(params, seed=seed + i, **kw)))


t0 = time.time()
base = [ft(0), ft(1)]
extra = {}
for spec in sys.argv[2:]:
    t0 = time.time()
    teachers = list(base)
    if "layer" in spec:
        x, y = pools[0]
        teachers.append(static.fit(list(x), list(y), L, 1e-3, static.word_table(static.TABLE_FILE)))
    if "char" in spec:
        teachers.append(ft(2, minn=3))
    if spec == "dim32":
        teachers.append(ft(2, dim=32, epoch=10))
    x, y = pools[0]
    for t in teachers[len(base) :]:
        score(f"{spec} teacher alone", t.probabilities(devl, L), t0)
    proba = np.mean([t.probabilities(list(x), L) for t in teachers], axis=0)
    score(
        f"{spec} teachers' bag", np.mean([t.probabilities(devl, L) for t in teachers], axis=0), t0
    )
    student = FastTextModel(fit(x, soft_labels(proba, L), params))
    score(f"{spec} student", student.probabilities(devl, L), t0)
