"""Batch i: a frozen static-embedding representation with a trained linear head, alone and
fused with recipe C's fastText model (unquantised).

Word table: wordllama's 256-dimension token embeddings (PyPI wordllama 0.4.0.post1,
weights in the wheel) averaged per word over the MiniLM word list (the model2vec recipe:
each word's vector computed once; built by wl_embed.py). A document's vector: the
mean of its preprocessed words' vectors, L2-normalised. Head: softmax regression (L-BFGS,
L2 penalty C) on the C pool. Fusion: the mean of the two models' log-probabilities.
Usage: exp9.py NAME SEED [l2 ...]"""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import exp9_lib as L
from recipes import *

seed = int(sys.argv[2])
l2s = [float(x) for x in sys.argv[3:]] or [1e-4]
for head in HEADS:
    pairs = tree_pool(L.docs, head, 1000, seed)
    ls = L.lines([d for d, _ in pairs])
    labs = [l for _, l in pairs]
    dl = [d for d in L.dev if d.labels[head] is not None]
    dls = L.lines(dl)
    vec = VECTORS_FILE if head == TASK_TYPE else None
    m = fit_model(ls, labs, 16, 5, 0.5, 2, 2, 1_000_000, seed, vec)
    pf = probabilities(m, dls, LABELS[head])
    L.report("C fastText", head, pf, seed)
    X = L.embed(ls)
    Xd = L.embed(dls)
    y = np.array([LABELS[head].index(l) for l in labs])
    for l2 in l2s:
        W = L.fit_lr(X, y, len(LABELS[head]), l2)
        pe = L.softmax(Xd @ W)
        L.report(f"static LR l2={l2:g}", head, pe, seed)
        for a in (0.5, 0.3):
            z = a * np.log(np.maximum(pe, 1e-9)) + (1 - a) * np.log(np.maximum(pf, 1e-9))
            L.report(f"fused a={a} l2={l2:g}", head, L.softmax(z), seed)
