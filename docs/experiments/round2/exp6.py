"""Batch f: two levers for meaning over source style, on top of recipe C as the package
builds it (unquantised, like batches a-d).

- self-training: the C models of the same seed label every document of ../shared/data that
  has no label for a head (10,037 for content type: 442 web pages, the rest books, manuals,
  medquad, ...); those whose raw top probability is >= 0.9 join the pool with the
  predicted label (the web ones in the 4 web shares, the others as their own source).
- source-word dropout: in training lines only, every word whose documents sit >= 80% in
  one source (document frequency >= 20 in the pool) is dropped, so the model cannot lean
  on a source's own vocabulary (names, headers, boilerplate); dev lines are left whole.
"""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from collections import Counter

from recipes import *

from classifiers.dataset import balancing_source
from classifiers.preprocess import preprocess

docs, conf, dev = load()
seeds = [int(x) for x in sys.argv[2:]] or [1]
rows = []
LC = {}


def lines(ds):
    miss = [d for d in dict.fromkeys(ds) if id(d) not in LC]
    for d, l in zip(miss, preprocess([d.text for d in miss])):
        LC[id(d)] = l
    return [LC[id(d)] for d in ds]


def train(head, pairs, seed, transform=None):
    ls = lines([d for d, _ in pairs])
    if transform:
        ls = [transform(l) for l in ls]
    vec = VECTORS_FILE if head == TASK_TYPE else None
    return fit_model(ls, [l for _, l in pairs], 16, 5, 0.5, 2, 2, 1_000_000, seed, vec)


def score(name, models):
    res = {}
    for head, m in models.items():
        dl = [d for d in dev if d.labels[head] is not None]
        res[head], _ = dev_scores(head, probabilities(m, lines(dl), LABELS[head]), dev)
    row = summarise(name, res[CONTENT_TYPE], res[TASK_TYPE])
    rows.append(row)
    print(fmt(row), flush=True)
    json.dump(rows, open(f"rows_{sys.argv[1]}.json", "w"), indent=1)


def source_words(pairs, share=0.8, min_df=20):
    df, by_src = Counter(), defaultdict(Counter)
    for d, _ in dict.fromkeys(pairs):
        toks = set(LC[id(d)].split())
        df.update(toks)
        by_src[d.source].update(toks)
    top = Counter()
    for c in by_src.values():
        for t, n in c.items():
            top[t] = max(top[t], n)
    return {t for t, n in df.items() if n >= min_df and top[t] / n >= share}


for seed in seeds:
    base = {h: train(h, tree_pool(docs, h, 1000, seed), seed) for h in HEADS}
    score(f"C pkg unquantised s{seed}", base)
    # self-training
    unl = {h: [d for d in docs if d.labels[h] is None] for h in HEADS}
    pseudo = {}
    for h in HEADS:
        p = probabilities(base[h], lines(unl[h]), LABELS[h])
        for d, row in zip(unl[h], p):
            if row.max() >= 0.9:
                pseudo.setdefault(id(d), (d, {}))[1][h] = LABELS[h][int(row.argmax())]
    extra = []
    for d, lab in pseudo.values():
        labels = dict(d.labels)
        labels.update(lab)
        extra.append(
            Doc(d.text, d.source if d.source == "web_crawl" else d.source + "~pseudo", labels)
        )
    print(
        f"  pseudo-labelled: {len(extra)} docs, web {sum(d.source == 'web_crawl' for d in extra)}",
        file=sys.stderr,
        flush=True,
    )
    for d in extra:
        LC.pop(id(d), None)
    st = {h: train(h, tree_pool(docs + extra, h, 1000, seed), seed) for h in HEADS}
    score(f"C + self-training (p >= 0.9) s{seed}", st)
    # source-word dropout
    dropped = {}
    models = {}
    for h in HEADS:
        pairs = tree_pool(docs, h, 1000, seed)
        lines([d for d, _ in pairs])
        sw = source_words(pairs)
        dropped[h] = len(sw)
        models[h] = train(
            h, pairs, seed, lambda l, sw=sw: " ".join(t for t in l.split() if t not in sw)
        )
    print(f"  source words dropped: {dropped}", file=sys.stderr, flush=True)
    score(f"C + source-word dropout (80%) s{seed}", models)
