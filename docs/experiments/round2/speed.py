import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from recipes import *

import classifiers.preprocess as cp

docs, conf, dev = load()
w4 = web_split(docs, conf, k=4)
texts = [d.text for d in docs[::6]]
mb = sum(len(t.encode()) for t in texts) / 1e6
for name, stop in (("B", True), ("C", False)):
    P = make_punct("?!", stop=stop)
    _, _, models = run(
        name,
        "p?!" + ("" if stop else "ns"),
        P,
        lambda h, s: tree_pool(w4, h, 1000, s),
        quant=True,
        keep=True,
        log=False,
    )
    saved = cp.STOPWORDS
    if not stop:
        cp._STOP_KEYS = np.array([1 << 63], np.uint64)  # blank nothing
    t0 = time.process_time()
    lines = cp.preprocess(texts)
    t1 = time.process_time()
    for h, m in models.items():
        probabilities(m, lines, LABELS[h])
    t2 = time.process_time()
    print(
        name,
        f"{mb:.1f} MB, preprocess {mb / (t1 - t0):.1f} MB/s, both models {mb / (t2 - t1):.1f} MB/s, all {mb / (t2 - t0):.1f} MB/s, tokens {sum(len(l.split()) for l in lines)}",
        flush=True,
    )
