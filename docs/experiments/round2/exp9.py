"""Batch i: a frozen static-embedding representation with a trained linear head, alone and
fused with recipe C's fastText model (unquantised).

Word table: wordllama's 256-dimension token embeddings (PyPI wordllama 0.4.0.post1,
weights in the wheel) averaged per word over the MiniLM word list (the model2vec recipe:
each word's vector computed once; built by /tmp/wl_embed.py). A document's vector: the
mean of its preprocessed words' vectors, L2-normalised. Head: softmax regression (L-BFGS,
L2 penalty C) on the C pool. Fusion: the mean of the two models' log-probabilities.
Usage: exp9.py NAME SEED [l2 ...]"""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import pyarrow as pa
import pyarrow.compute as pc
from recipes import *
from scipy.optimize import minimize

from classifiers.preprocess import preprocess

docs, conf, dev = load()
WORDS = open("/tmp/wl_words.txt").read().split("\n")
E = np.load("/tmp/wl_words_raw.npy")
VOCAB = pa.array(WORDS)
LC = {}


def lines(ds):
    miss = [d for d in dict.fromkeys(ds) if id(d) not in LC]
    for d, l in zip(miss, preprocess([d.text for d in miss])):
        LC[id(d)] = l
    return [LC[id(d)] for d in ds]


def embed(ls):
    tok = pc.split_pattern(pa.array(ls, pa.large_string()), " ")
    offs = np.asarray(tok.offsets)
    ids = pc.index_in(tok.flatten(), value_set=VOCAB).to_numpy(zero_copy_only=False)
    doc = np.repeat(np.arange(len(ls)), np.diff(offs))
    ok = ~np.isnan(ids.astype(float)) if ids.dtype == object else ids >= 0
    ids = np.nan_to_num(ids.astype(float), nan=-1).astype(int)
    ok = ids >= 0
    X = np.zeros((len(ls), E.shape[1]))
    np.add.at(X, doc[ok], E[ids[ok]])
    X /= np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-9)
    return np.hstack([X, np.ones((len(ls), 1))])


def softmax(Z):
    Z = Z - Z.max(1, keepdims=True)
    P = np.exp(Z)
    return P / P.sum(1, keepdims=True)


def fit_lr(X, y, k, l2):
    Y = np.eye(k)[y]
    n, d = X.shape

    def f(w):
        W = w.reshape(d, k)
        P = softmax(X @ W)
        loss = -np.sum(Y * np.log(np.maximum(P, 1e-12))) / n + 0.5 * l2 * np.sum(W[:-1] ** 2)
        g = X.T @ (P - Y) / n
        g[:-1] += l2 * W[:-1]
        return loss, g.ravel()

    r = minimize(f, np.zeros(d * k), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return r.x.reshape(d, k)


def report(name, head, proba):
    res, _ = dev_scores(head, proba, dev)
    r, c, w, b = res["raw"], res["cf"], res["web_cf"], res["books_cf"]
    extra = (
        f" P cf {c['per_class']['procedural']['precision']:.3f} R {c['per_class']['procedural']['recall']:.3f}"
        if head == CONTENT_TYPE
        else ""
    )
    print(
        f"{name:<36} s{seed} {head}: raw {r['macro_f1']:.3f} cf {c['macro_f1']:.3f}{extra} ECE cf {c['ece']:.3f} web cf {w['macro_f1']:.3f} books cf {b['macro_f1']:.3f}",
        flush=True,
    )


seed = int(sys.argv[2])
l2s = [float(x) for x in sys.argv[3:]] or [1e-4]
for head in HEADS:
    pairs = tree_pool(docs, head, 1000, seed)
    ls = lines([d for d, _ in pairs])
    labs = [l for _, l in pairs]
    dl = [d for d in dev if d.labels[head] is not None]
    dls = lines(dl)
    vec = VECTORS_FILE if head == TASK_TYPE else None
    m = fit_model(ls, labs, 16, 5, 0.5, 2, 2, 1_000_000, seed, vec)
    pf = probabilities(m, dls, LABELS[head])
    report("C fastText", head, pf)
    X = embed(ls)
    Xd = embed(dls)
    y = np.array([LABELS[head].index(l) for l in labs])
    for l2 in l2s:
        W = fit_lr(X, y, len(LABELS[head]), l2)
        pe = softmax(Xd @ W)
        report(f"static LR l2={l2:g}", head, pe)
        for a in (0.5, 0.3):
            z = a * np.log(np.maximum(pe, 1e-9)) + (1 - a) * np.log(np.maximum(pf, 1e-9))
            report(f"fused a={a} l2={l2:g}", head, softmax(z))
