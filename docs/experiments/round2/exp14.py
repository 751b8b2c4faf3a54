"""Batch n: a one-hidden-layer network (ReLU) on the static task features instead of the
linear layer: does capacity fix the in-distribution misses (GSM8K word problems called
business_law) without losing dev? L-BFGS from a seeded start. Usage: exp14.py SEED H:L2 ..."""

import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from classifiers import static
from classifiers.dataset import pool, read_docs
from classifiers.dev import DevPredictions, dev_report, labelled
from classifiers.loso import in_distribution_split
from classifiers.metrics import evaluate
from classifiers.taxonomy import LABELS, TASK_TYPE
from classifiers.train import LineCache

seed = int(sys.argv[1])
docs = list(read_docs(Path("/work/shared/data")))
dev = labelled(list(read_docs(Path("/work/shared/dev"))), TASK_TYPE)
cache = LineCache()
table = static.word_table(static.TABLE_FILE)
labels = LABELS[TASK_TYPE]
pairs = pool(docs, TASK_TYPE, 1000, seed)
train, held = in_distribution_split(pairs, seed)
gsm = [d for d in docs if d.source == "gsm8k"][:200]


def fit_mlp(x, y, hidden, l2):
    k, d = len(labels), x.shape[1]
    t = np.eye(k)[y]
    rng = np.random.default_rng(seed)
    w0 = np.concatenate([rng.normal(0, 1 / np.sqrt(d), d * hidden), np.zeros((hidden + 1) * k)])

    def f(w):
        a, b = w[: d * hidden].reshape(d, hidden), w[d * hidden :].reshape(hidden + 1, k)
        h = np.maximum(x @ a, 0)
        hb = np.hstack([h, np.ones((len(x), 1))])
        p = static.softmax(hb @ b)
        loss = -np.sum(t * np.log(np.maximum(p, 1e-12))) / len(x) + 0.5 * l2 * (np.sum(a**2) + np.sum(b[:-1] ** 2))
        g_out = (p - t) / len(x)
        gb = hb.T @ g_out
        gb[:-1] += l2 * b[:-1]
        gh = (g_out @ b[:-1].T) * (h > 0)
        ga = x.T @ gh + l2 * a
        return loss, np.concatenate([ga.ravel(), gb.ravel()])

    w = minimize(f, w0, jac=True, method="L-BFGS-B", options={"maxiter": 500}).x
    a, b = w[: d * hidden].reshape(d, hidden), w[d * hidden :].reshape(hidden + 1, k)
    return lambda z: static.softmax(np.hstack([np.maximum(z @ a, 0), np.ones((len(z), 1))]) @ b)


def xy(ps):
    return static.features(table, cache.lines([d for d, _ in ps])), np.array([labels.index(l) for _, l in ps])


for spec in sys.argv[2:]:
    hidden, l2 = int(spec.split(":")[0]), float(spec.split(":")[1])
    model = fit_mlp(*xy(pairs), hidden, l2)
    r = dev_report(TASK_TYPE, DevPredictions.of(TASK_TYPE, dev, model(static.features(table, cache.lines(dev)))), None)
    inner = fit_mlp(*xy(train), hidden, l2)
    p_in = inner(static.features(table, cache.lines(held)))
    y_in = np.array([labels.index(d.labels[TASK_TYPE]) for d in held])
    ind = evaluate(labels, y_in, p_in.argmax(1), p_in)
    g = model(static.features(table, cache.lines(gsm))).argmax(1)
    print(
        f"s{seed} mlp {hidden} l2 {l2:g}: dev cf {r['macro_f1']:.3f} web {r['web']['macro_f1']:.3f} "
        f"books {r['books']['macro_f1']:.3f} ECE {r['ece']:.3f} | in-dist {ind['macro_f1']:.3f} "
        f"| gsm8k acc {np.mean(g == labels.index('math')):.2f}",
        flush=True,
    )
