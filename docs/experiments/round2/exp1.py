import sys

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from recipes import *

from classifiers.preprocess import preprocess

docs, conf, dev = load()
print(len(docs), file=sys.stderr)
rows = []


def go(*a, **k):
    row, res, _ = run(*a, **k)
    rows.append(row)
    print(fmt(row), flush=True)
    json.dump(rows, open(f"rows_{sys.argv[1]}.json", "w"), indent=1)


which = sys.argv[1]
if which == "a":
    # baseline: notes recipe
    go(
        "baseline (notes recipe)",
        "base",
        pre_baseline,
        lambda h, s: baseline_pool(docs, h, s),
        dims=(50, 50),
        epoch=10,
        ngrams=2,
        min_count=1,
        bucket=2_000_000,
        task_vectors=False,
    )
    # current shipped recipe, retrained on today's data
    go("shipped recipe (cap 1000)", "cur", preprocess, lambda h, s: tree_pool(docs, h, 1000, s))
    # no web pages
    nw = [d for d in docs if d.source != "web_crawl"]
    go("shipped recipe, no web", "cur", preprocess, lambda h, s: tree_pool(nw, h, 1000, s))
    for k in (4, 10):
        wd = web_split(docs, conf, k=k)
        go(f"shipped + web x{k}", "cur", preprocess, lambda h, s, wd=wd: tree_pool(wd, h, 1000, s))
