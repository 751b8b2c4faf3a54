"""Batch e: recipe C as the package now builds it (crc32 web split, package preprocessing),
unquantised against quantised at the shipped cutoff and at larger ones."""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from recipes import *

from classifiers.preprocess import preprocess

docs, conf, dev = load()
rows = []


def go(*a, **k):
    row, res, models = run(*a, keep=True, **k)
    rows.append(row)
    size = ""
    if models:
        import os
        import tempfile

        with tempfile.TemporaryDirectory() as t:
            for h, m in models.items():
                m.save_model(f"{t}/{h}.bin")
                size += f" {h} {os.path.getsize(f'{t}/{h}.bin') / 1e6:.1f} MB"
    print(fmt(row) + " |" + size, flush=True)
    json.dump(rows, open(f"rows_{sys.argv[1]}.json", "w"), indent=1)


tp = lambda h, s: tree_pool(docs, h, 1000, s)
seeds = [int(x) for x in sys.argv[2:]] or [1]
for seed in seeds:
    go(f"C pkg unquantised s{seed}", "pkg", preprocess, tp, seed=seed)
    go(f"C pkg quantised cutoff 100k s{seed}", "pkg", preprocess, tp, seed=seed, quant=True)
    go(
        f"C pkg quantised cutoff 300k s{seed}",
        "pkg",
        preprocess,
        tp,
        seed=seed,
        quant=True,
        cutoff=300000,
    )
    go(
        f"C pkg quantised cutoff 0 (all) s{seed}",
        "pkg",
        preprocess,
        tp,
        seed=seed,
        quant=True,
        cutoff=0,
    )
