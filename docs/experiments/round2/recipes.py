from __future__ import annotations

import json
import random
import re
import sys
import time
from collections import defaultdict

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from harness import *

from classifiers.dataset import pool as tree_pool
from classifiers.preprocess import window

# The 20 function words the package blanked until this round.
STOPWORDS = frozenset(
    ("the", "of", "and", "to", "in", "for", "that", "as", "be", "it")
    + ("with", "or", "by", "this", "on", "from", "at", "which", "s", "but")
)

# ---------- preprocessing variants ----------
_WS = re.compile(r"\s+")


def pre_baseline(texts):
    return [_WS.sub(" ", t[:2000].lower()).strip() for t in texts]


KEEP = "?!"
_KEEP_RE = None


def make_punct(keep="?!", stop=True, reg=False):
    import string

    kept = set(keep)
    table = {ord(c): " " for c in string.punctuation + string.whitespace if c not in kept}
    for c in kept:
        table[ord(c)] = f" {c} "
    for d in "0123456789":
        table[ord(d)] = "0"

    def f(texts):
        out = []
        for t in texts:
            w = window(t)
            toks = w.lower().translate(table).split()
            if stop:
                toks = [x for x in toks if x not in STOPWORDS]
            line = " ".join(toks)
            if reg:
                line = register_tokens(w) + " " + line
            out.append(line)
        return out

    return f


FIRST = {"i", "me", "my", "mine", "we", "our", "us", "i'm", "i've", "myself"}
SECOND = {"you", "your", "yours", "yourself"}
_SENT = re.compile(r"[.!?]+\s+|\n+")
_WORD = re.compile(r"[a-z']+")


def _bin(x, edges):
    return sum(x >= e for e in edges)


def register_tokens(w):
    low = w.lower()
    words = _WORD.findall(low)
    n = max(len(words), 1)
    sents = [s for s in _SENT.split(w) if s.strip()]
    ns = max(len(sents), 1)
    q = w.count("?") / ns
    e = w.count("!") / ns
    p1 = sum(x in FIRST for x in words) / n
    p2 = sum(x in SECOND for x in words) / n
    toks = [
        f"_q{_bin(q, (0.02, 0.1, 0.3))}",
        f"_e{_bin(e, (0.02, 0.1, 0.3))}",
        f"_pa{_bin(p1, (0.005, 0.02, 0.05))}",
        f"_pb{_bin(p2, (0.005, 0.02, 0.05))}",
    ]
    return " ".join(toks)


# ---------- pools ----------
def baseline_pool(docs, head, seed, cap=3000):
    rng = random.Random(seed)
    by_src = defaultdict(list)
    for d in docs:
        if d.labels[head] is not None:
            by_src[d.source].append(d)
    chosen = []
    for s in sorted(by_src):
        m = by_src[s]
        chosen += rng.sample(m, min(cap, len(m)))
    by_lab = defaultdict(list)
    for d in chosen:
        by_lab[d.labels[head]].append(d)
    mean = round(len(chosen) / len(by_lab))
    out = []
    for l in sorted(by_lab):
        m = by_lab[l]
        if len(m) >= mean:
            out += [(d, l) for d in rng.sample(m, mean)]
        else:
            out += [(d, l) for d in m] + [(d, l) for d in rng.choices(m, k=mean - len(m))]
    rng.shuffle(out)
    return out


def web_split(docs, conf, k=1, high_dup=1, drop_low=False):
    """Web pages as k pseudo-sources (k shares of the tree); high-confidence pages duplicated."""
    out = []
    for d in docs:
        if d.source != "web_crawl":
            out.append(d)
            continue
        c = conf.get(id(d))
        if drop_low and c != "high":
            continue
        h = int(hashlib.md5(d.text[:200].encode()).hexdigest(), 16)
        src = f"web_crawl#{h % k}" if k > 1 else "web_crawl"
        reps = high_dup if c == "high" else 1
        for _ in range(reps):
            nd = Doc(d.text, src, d.labels)
            out.append(nd)
            ORIG[id(nd)] = d
    return out


ORIG = {}

# ---------- run ----------
LINES = {}


def lines_for(pre_name, pre, docs):
    key = pre_name
    cache = LINES.setdefault(key, {})
    miss = [d for d in dict.fromkeys(ORIG.get(id(d), d) for d in docs) if id(d) not in cache]
    if miss:
        for d, l in zip(miss, pre([d.text for d in miss])):
            cache[id(d)] = l
    return [cache[id(ORIG.get(id(d), d))] for d in docs]


def run(
    name,
    pre_name,
    pre,
    pool_fn,
    heads=HEADS,
    dims=(16, 16),
    epoch=5,
    lr=0.5,
    ngrams=2,
    min_count=2,
    bucket=1_000_000,
    task_vectors=True,
    seed=1,
    minn=0,
    maxn=0,
    quant=False,
    log=True,
    keep=False,
    cutoff=100000,
    dsub=2,
):
    docs, conf, dev = load()
    res = {}
    models = {}
    for head, dim in zip(heads, dims):
        t0 = time.time()
        pairs = pool_fn(head, seed)
        lines = lines_for(pre_name, pre, [d for d, _ in pairs])
        vec = VECTORS_FILE if (head == TASK_TYPE and task_vectors) else None
        m = fit_model(
            lines,
            [l for _, l in pairs],
            dim,
            epoch,
            lr,
            ngrams,
            min_count,
            bucket,
            seed,
            vec,
            minn,
            maxn,
            quant,
            cutoff=cutoff,
            dsub=dsub,
        )
        dl = [d for d in dev if d.labels[head] is not None]
        proba = probabilities(m, lines_for(pre_name + "#dev", pre, dl), LABELS[head])
        res[head], raw = dev_scores(head, proba, dev)
        res[head]["_pred"] = raw
        if keep:
            models[head] = m
        if log:
            print(
                f"  {name} {head}: {len(pairs)} lines, {time.time() - t0:.1f}s",
                file=sys.stderr,
                flush=True,
            )
    row = summarise(name, res[CONTENT_TYPE], res[TASK_TYPE]) if len(heads) == 2 else None
    return row, res, models


def per_source(res, head=CONTENT_TYPE):
    proba, y, src = res[head]["_pred"]
    labels = LABELS[head]
    out = []
    pred = proba.argmax(1)
    for s in np.unique(src):
        m = src == s
        cm = np.zeros((len(labels), len(labels)), int)
        np.add.at(cm, (y[m], pred[m]), 1)
        nz = [i for i in range(len(labels)) if cm[i].sum() or cm[:, i].sum()]
        out.append(
            f"    {s[:24]:<24} acc {np.mean(pred[m] == y[m]):.3f} "
            + " ".join(f"{labels[i][:4]}:{list(cm[i, nz])}" for i in nz if cm[i].sum())
        )
    return "\n".join(out)
