"""Batch j: the static-embedding task head alone (see exp9.py): table dimensions (principal
components of the 256), pooling (L2-normalised sum or plain mean), L2 penalty.
Usage: exp10.py NAME SEED HEAD dim:pool:l2 ..."""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import exp9_lib as L
from recipes import *

seed, head = int(sys.argv[2]), sys.argv[3]
pairs = tree_pool(L.docs, head, 1000, seed)
ls = L.lines([d for d, _ in pairs])
labs = [l for _, l in pairs]
dl = [d for d in L.dev if d.labels[head] is not None]
dls = L.lines(dl)
y = np.array([LABELS[head].index(l) for l in labs])
for spec in sys.argv[4:]:
    dim, pool_, l2 = spec.split(":")
    dim = int(dim)
    l2 = float(l2)
    T = L.table(dim)
    X = L.embed(ls, T, pool_)
    Xd = L.embed(dls, T, pool_)
    W = L.fit_lr(X, y, len(LABELS[head]), l2)
    L.report(f"static {dim}d {pool_} l2={l2:g}", head, L.softmax(Xd @ W), seed)
