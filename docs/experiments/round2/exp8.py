"""Batch h: one head at a time on top of recipe C as the package builds it (unquantised).

Content: the MiniLM word vectors as starting vectors; a shared vocabulary (training and
dev lines keep only words that occur in at least K training sources, the rest become one
placeholder: an upper bound on what forgetting source-specific words can give).
Task: cap 3000, char n-grams 3-5, web x8, and their combinations.
Usage: exp8.py NAME SEED VARIANT... (variants below)."""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from collections import Counter

from recipes import *

import classifiers.dataset as cd
from classifiers.preprocess import preprocess

docs, conf, dev = load()
LC = {}


def lines(ds):
    miss = [d for d in dict.fromkeys(ds) if id(d) not in LC]
    for d, l in zip(miss, preprocess([d.text for d in miss])):
        LC[id(d)] = l
    return [LC[id(d)] for d in ds]


def shared_vocab(k):
    src = defaultdict(set)
    for d, l in zip(docs, lines(docs)):
        for t in set(l.split()):
            src[t].add(d.source)
    return {t for t, s in src.items() if len(s) >= k}


def go(
    name,
    head,
    seed,
    cap=1000,
    dim=16,
    epoch=5,
    vec=None,
    minn=0,
    maxn=0,
    shares=4,
    transform=None,
    quant=False,
    cutoff=100000,
    lr=0.5,
):
    t0 = time.time()
    cd.SOURCE_SHARES["web_crawl"] = shares
    pairs = tree_pool(docs, head, cap, seed)
    ls = lines([d for d, _ in pairs])
    dl = [d for d in dev if d.labels[head] is not None]
    dls = lines(dl)
    if transform:
        ls = [transform(l) for l in ls]
        dls = [transform(l) for l in dls]
    m = fit_model(
        ls,
        [l for _, l in pairs],
        dim,
        epoch,
        lr,
        2,
        2,
        1_000_000,
        seed,
        vec,
        minn,
        maxn,
        quant,
        cutoff=cutoff,
    )
    res, _ = dev_scores(head, probabilities(m, dls, LABELS[head]), dev)
    r, c, w, b = res["raw"], res["cf"], res["web_cf"], res["books_cf"]
    extra = ""
    if head == CONTENT_TYPE:
        extra = f" P raw {r['per_class']['procedural']['precision']:.3f} cf {c['per_class']['procedural']['precision']:.3f} R cf {c['per_class']['procedural']['recall']:.3f}"
    print(
        f"{name:<44} s{seed} {head}: raw {r['macro_f1']:.3f} cf {c['macro_f1']:.3f}{extra} ECE raw {r['ece']:.3f} cf {c['ece']:.3f} web cf {w['macro_f1']:.3f} books cf {b['macro_f1']:.3f} [{time.time() - t0:.0f}s]",
        flush=True,
    )


seed = int(sys.argv[2])
WL = Path("/tmp/wl_words64.npz")
for v in sys.argv[3:]:
    if v == "c_vec":
        go("content + MiniLM vectors", CONTENT_TYPE, seed, vec=VECTORS_FILE)
    elif v.startswith("c_vocab"):
        k = int(v[7:])
        V = shared_vocab(k)
        go(
            f"content, vocab in >= {k} sources ({len(V)})",
            CONTENT_TYPE,
            seed,
            transform=lambda l: " ".join(t if t in V else "_w" for t in l.split()),
        )
    elif v == "c_d32":
        go("content dim 32 epoch 10", CONTENT_TYPE, seed, dim=32, epoch=10)
    elif v == "c_ref":
        go("content C", CONTENT_TYPE, seed)
    elif v == "t_ref":
        go("task C", TASK_TYPE, seed, vec=VECTORS_FILE)
    elif v == "t_cap3k":
        go("task cap 3000", TASK_TYPE, seed, cap=3000, vec=VECTORS_FILE)
    elif v == "t_char":
        go("task char 3-5", TASK_TYPE, seed, vec=VECTORS_FILE, minn=3, maxn=5)
    elif v == "t_w8":
        go("task web x8", TASK_TYPE, seed, vec=VECTORS_FILE, shares=8)
    elif v == "t_cap3k_w8":
        go("task cap 3000 web x8", TASK_TYPE, seed, cap=3000, vec=VECTORS_FILE, shares=8)
    elif v == "t_cap3k_char":
        go("task cap 3000 char 3-5", TASK_TYPE, seed, cap=3000, vec=VECTORS_FILE, minn=3, maxn=5)
    elif v == "t_e10":
        go("task epoch 10", TASK_TYPE, seed, vec=VECTORS_FILE, epoch=10)
    elif v.startswith("t_wl"):
        go(f"task wordllama vectors dim {v[4:]}", TASK_TYPE, seed, vec=WL, dim=int(v[4:]))
    elif v.startswith("c_wl"):
        go(f"content wordllama vectors dim {v[4:]}", CONTENT_TYPE, seed, vec=WL, dim=int(v[4:]))
    else:
        raise SystemExit(f"unknown variant {v}")
