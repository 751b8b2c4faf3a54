"""Batch g: the content model's quantisation cutoff (100k shipped, 300k), seeds 2 and 3."""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from recipes import *

from classifiers.preprocess import preprocess

docs, conf, dev = load()
tp = lambda h, s: tree_pool(docs, h, 1000, s)
for seed in [int(x) for x in sys.argv[2:]] or [2, 3]:
    for cutoff in (100000, 300000):
        _, res, _ = run(
            f"cutoff {cutoff} s{seed}",
            "pkg",
            preprocess,
            tp,
            heads=(CONTENT_TYPE,),
            dims=(16,),
            seed=seed,
            quant=True,
            cutoff=cutoff,
            log=False,
        )
        c = res[CONTENT_TYPE]
        print(
            f"C content quantised cutoff {cutoff} s{seed}: raw {c['raw']['macro_f1']:.3f} P {c['raw']['per_class']['procedural']['precision']:.3f} | cf {c['cf']['macro_f1']:.3f} P {c['cf']['per_class']['procedural']['precision']:.3f} R {c['cf']['per_class']['procedural']['recall']:.3f} ECE {c['cf']['ece']:.3f} | web cf {c['web_cf']['macro_f1']:.3f} books cf {c['books_cf']['macro_f1']:.3f}",
            flush=True,
        )
