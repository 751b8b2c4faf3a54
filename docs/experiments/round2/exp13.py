"""Batch m: the static task head's L2 penalty and pool cap, on dev (cross-fitted) and in
distribution (a model on 90% of the pool scoring the other 10%), with the package's own
pool, table and fit. Usage: exp13.py SEED L2:CAP ..."""

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from classifiers import static
from classifiers.dataset import pool, read_docs
from classifiers.dev import DevPredictions, dev_report, labelled
from classifiers.loso import in_distribution_split
from classifiers.metrics import evaluate
from classifiers.taxonomy import LABELS, TASK_TYPE
from classifiers.train import LineCache, TrainParams

seed = int(sys.argv[1])
docs = list(read_docs(Path("/work/shared/data")))
dev = labelled(list(read_docs(Path("/work/shared/dev"))), TASK_TYPE)
cache = LineCache()
table = static.word_table(static.TABLE_FILE)
labels = LABELS[TASK_TYPE]
for spec in sys.argv[2:]:
    l2, cap = float(spec.split(":")[0]), int(spec.split(":")[1])
    pairs = pool(docs, TASK_TYPE, cap, seed)
    fit = lambda ps: static.fit(cache.lines([d for d, _ in ps]), [l for _, l in ps], labels, l2, table)
    proba = fit(pairs).probabilities(cache.lines(dev), labels)
    r = dev_report(TASK_TYPE, DevPredictions.of(TASK_TYPE, dev, proba), None)
    train, held = in_distribution_split(pairs, seed)
    p_in = fit(train).probabilities(cache.lines(held), labels)
    y_in = np.array([labels.index(d.labels[TASK_TYPE]) for d in held])
    ind = evaluate(labels, y_in, p_in.argmax(1), p_in)
    print(
        f"s{seed} l2 {l2:g} cap {cap} (pool {len(pairs)}): dev cf {r['macro_f1']:.3f} "
        f"web {r['web']['macro_f1']:.3f} books {r['books']['macro_f1']:.3f} ECE {r['ece']:.3f} "
        f"| in-distribution {ind['macro_f1']:.3f} acc {ind['accuracy']:.3f}",
        flush=True,
    )
