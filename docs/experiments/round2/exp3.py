import sys

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from recipes import *

import classifiers.dataset as cd

docs, conf, dev = load()
rows = []


def go(*a, **k):
    row, res, _ = run(*a, **k)
    rows.append(row)
    print(fmt(row), flush=True)
    if "--ps" in sys.argv:
        print(per_source(res), flush=True)
    json.dump(rows, open(f"rows_{sys.argv[1]}.json", "w"), indent=1)
    return res


which = sys.argv[1]
P = make_punct("?!", stop=False)
w4 = web_split(docs, conf, k=4)
tp = lambda h, s, cap=1000, d=w4: tree_pool(d, h, cap, s)
if which == "c":
    orig = cd.stratum
    cd.stratum = lambda d, h: ""
    go("B + content no task stratum", "p?!ns", P, tp)
    cd.stratum = orig
    go("B + cap 3000", "p?!ns", P, lambda h, s: tp(h, s, 3000))
    go("B + epoch 10 dim 32", "p?!ns", P, tp, dims=(32, 32), epoch=10, task_vectors=False)
    w8 = web_split(docs, conf, k=8)
    go("B with web x8", "p?!ns", P, lambda h, s: tp(h, s, d=w8))
    go("B + bigram off (ngrams 1)", "p?!ns", P, tp, ngrams=1)
    go("B + char ngrams 3-5", "p?!ns", P, tp, minn=3, maxn=5)
