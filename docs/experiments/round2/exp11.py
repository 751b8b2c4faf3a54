"""Batch k: the static-embedding task head (exp10.py's best, L2-normalised sum, L2 1e-3) with
the word table cut to fit a committed file: the N most frequent words of the word list
(it is ranked by frequency in ../shared/data), D principal components, stored as float32 or
int8 with one scale per row. Usage: exp11.py NAME SEED D:N:QUANT ..."""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import exp9_lib as L
from recipes import *

seed, head = int(sys.argv[2]), TASK_TYPE
pairs = tree_pool(L.docs, head, 1000, seed)
ls = L.lines([d for d, _ in pairs])
labs = [l for _, l in pairs]
dl = [d for d in L.dev if d.labels[head] is not None]
dls = L.lines(dl)
y = np.array([LABELS[head].index(l) for l in labs])


def int8_rows(T):
    scale = np.abs(T).max(axis=1, keepdims=True) / 127
    return np.round(T / np.maximum(scale, 1e-12)).astype(np.int8) * scale


for spec in sys.argv[3:]:
    dim, n, quant = spec.split(":")
    dim, n = int(dim), int(n)
    T = L.table(dim).copy()
    T[n:] = 0
    if quant == "int8":
        T[:n] = int8_rows(T[:n])
    X = L.embed(ls, T, "l2")
    Xd = L.embed(dls, T, "l2")
    W = L.fit_lr(X, y, len(LABELS[head]), 1e-3)
    L.report(f"static {dim}d top {n} {quant}", head, L.softmax(Xd @ W), seed)
