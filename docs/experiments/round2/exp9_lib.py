"""Shared by exp9.py and exp10.py: the static-embedding table, pooling, softmax regression."""

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


_T = {}


def table(dim):
    if dim not in _T:
        from classifiers.word_vectors import principal_components

        _T[dim] = E if dim == E.shape[1] else principal_components(E, dim)
    return _T[dim]


def embed(ls, T=None, how="l2"):
    T = E if T is None else T
    tok = pc.split_pattern(pa.array(ls, pa.large_string()), " ")
    offs = np.asarray(tok.offsets)
    ids = pc.index_in(tok.flatten(), value_set=VOCAB).to_numpy(zero_copy_only=False)
    doc = np.repeat(np.arange(len(ls)), np.diff(offs))
    ok = ~np.isnan(ids.astype(float)) if ids.dtype == object else ids >= 0
    ids = np.nan_to_num(ids.astype(float), nan=-1).astype(int)
    ok = ids >= 0
    X = np.zeros((len(ls), T.shape[1]))
    np.add.at(X, doc[ok], T[ids[ok]])
    if how == "l2":
        X /= np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-9)
    else:
        X /= np.maximum(np.bincount(doc[ok], minlength=len(ls)), 1)[:, None]
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


def report(name, head, proba, seed):
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
