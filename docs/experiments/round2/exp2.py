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
    print(per_source(res), flush=True)
    json.dump(rows, open(f"rows_{sys.argv[1]}.json", "w"), indent=1)
    return res


which = sys.argv[1]
w4 = web_split(docs, conf, k=4)
tp = lambda h, s: tree_pool(w4, h, 1000, s)
if which == "b":
    go("web x4", "cur", preprocess, tp)
    go("web x4 + ?! tokens", "p?!", make_punct("?!"), tp)
    go('web x4 + ?!:;"() tokens', "pall", make_punct('?!:;"()'), tp)
    go("web x4 + ?! + register", "p?!r", make_punct("?!", reg=True), tp)
    go("web x4 + ?! no stopword drop", "p?!ns", make_punct("?!", stop=False), tp)
    w4h = web_split(docs, conf, k=4, high_dup=2)
    go("web x4, high conf x2, ?!", "p?!", make_punct("?!"), lambda h, s: tree_pool(w4h, h, 1000, s))
