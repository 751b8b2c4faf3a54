"""Batch l: the content model's size. The shipped quantised model must stay under the
repository's 5 MiB per file; keeping 300k words and n-grams at dsub 2 is 5.6 MB. Variants
of the cutoff and of fastText's sub-vector size (dsub: bytes per `dsub` dimensions) with
the package's own pool, fit and cross-fitted dev report. Usage: exp12.py SEED CUTOFF:DSUB ..."""

import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from classifiers.dataset import pool, read_docs
from classifiers.dev import DevPredictions, dev_report, labelled
from classifiers.loso import guarded_label
from classifiers.model import FastTextModel
from classifiers.taxonomy import CONTENT_TYPE, LABELS
from classifiers.train import LineCache, TrainParams, fit

seed = int(sys.argv[1])
docs = list(read_docs(Path("/work/shared/data")))
dev = labelled(list(read_docs(Path("/work/shared/dev"))), CONTENT_TYPE)
cache = LineCache()
params = replace(TrainParams(seed=seed), word_vectors=None, kind="fasttext")
pairs = pool(docs, CONTENT_TYPE, params.cap_per_source, seed)
lines = cache.lines([d for d, _ in pairs])
labels = [label for _, label in pairs]
for spec in sys.argv[2:]:
    cutoff, dsub = map(int, spec.split(":"))
    model = fit(lines, labels, replace(params, cutoff=cutoff, dsub=dsub), quantize=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.ftz"
        model.save_model(str(path))
        size = path.stat().st_size
    proba = FastTextModel(model).probabilities(cache.lines(dev), LABELS[CONTENT_TYPE])
    r = dev_report(CONTENT_TYPE, DevPredictions.of(CONTENT_TYPE, dev, proba), guarded_label(CONTENT_TYPE))
    p = r["per_class"]["procedural"]
    print(
        f"s{seed} cutoff {cutoff} dsub {dsub}: {size / 2**20:.2f} MiB  dev cf {r['macro_f1']:.3f} "
        f"P {p['precision']:.3f} R {p['recall']:.3f} ECE {r['ece']:.3f} web {r['web']['macro_f1']:.3f}",
        flush=True,
    )
