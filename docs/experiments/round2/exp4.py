import sys

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from recipes import *

from classifiers.preprocess import preprocess

docs, conf, dev = load()
rows = []


def go(*a, **k):
    row, res, _ = run(*a, **k)
    rows.append(row)
    print(fmt(row), flush=True)
    json.dump(rows, open(f"rows_{sys.argv[1]}.json", "w"), indent=1)


w4 = web_split(docs, conf, k=4)
tp = lambda h, s: tree_pool(w4, h, 1000, s)
for seed in (2, 3):
    go(f"A web x4 s{seed}", "cur", preprocess, tp, seed=seed)
    go(f"B web x4 ?! s{seed}", "p?!", make_punct("?!"), tp, seed=seed)
    go(f"C web x4 ?! nostop s{seed}", "p?!ns", make_punct("?!", stop=False), tp, seed=seed)
    go(
        f"baseline s{seed}",
        "base",
        pre_baseline,
        lambda h, s: baseline_pool(docs, h, s),
        dims=(50, 50),
        epoch=10,
        ngrams=2,
        min_count=1,
        bucket=2_000_000,
        task_vectors=False,
        seed=seed,
    )
