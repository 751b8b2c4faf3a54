"""Round-2 experiment harness: train a recipe on ../shared/data, score on ../shared/dev."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import orjson

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3]))
import tempfile

from classifiers.calibration import Rule, fit_temperature, fit_threshold
from classifiers.dataset import MAX_REPEAT, Doc, read_docs
from classifiers.metrics import evaluate
from classifiers.model import PREFIX, probabilities
from classifiers.preprocess import preprocess
from classifiers.taxonomy import CONTENT_TYPE, HEADS, LABEL_FIELDS, LABELS, TASK_TYPE
from classifiers.train import TrainParams, _supervised
from classifiers.word_vectors import VECTORS_FILE, write_vec

DATA = Path("/work/shared/data")
DEV = Path("/work/shared/dev")


def read_conf(data):
    """Docs plus confidence per doc id (web pages)."""
    docs, conf = [], {}
    for path in sorted(data.glob("*.jsonl.gz")):
        for line in gzip.open(path):
            r = orjson.loads(line)
            t = r.get("text")
            if not isinstance(t, str) or not t.strip():
                continue
            labels = {
                h: (r.get(LABEL_FIELDS[h]) if r.get(LABEL_FIELDS[h]) in LABELS[h] else None)
                for h in HEADS
            }
            d = Doc(t, str(r.get("source") or path.name.split(".")[0]), labels)
            docs.append(d)
            conf[id(d)] = r.get("label_confidence")
    return docs, conf


_CACHE = {}


def load():
    if "d" not in _CACHE:
        _CACHE["d"] = read_conf(DATA)
        _CACHE["dev"] = list(read_docs(DEV))
    return _CACHE["d"][0], _CACHE["d"][1], _CACHE["dev"]


def fit_model(
    lines,
    labels,
    dim,
    epoch,
    lr,
    ngrams,
    min_count,
    bucket,
    seed,
    vectors=None,
    minn=0,
    maxn=0,
    quant=False,
    thread=1,
    loss="softmax",
    cutoff=100000,
    dsub=2,
):
    import fasttext

    from classifiers.train import _zero_filled_allocations

    _zero_filled_allocations()
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "t.txt"
        with p.open("w") as f:
            for l, y in zip(lines, labels):
                f.write(f"{PREFIX}{y} {l}\n")
        vec = ""
        if vectors:
            vec = str(Path(tmp) / "v.vec")
            write_vec(vectors, dim, Path(vec))
        m = fasttext.train_supervised(
            input=str(p),
            epoch=epoch,
            lr=lr,
            dim=dim,
            wordNgrams=ngrams,
            minCount=min_count,
            bucket=bucket,
            thread=thread,
            seed=seed,
            verbose=0,
            pretrainedVectors=vec,
            minn=minn,
            maxn=maxn,
            loss=loss,
        )
        if quant:
            m.quantize(
                input=str(p),
                qnorm=True,
                retrain=True,
                cutoff=cutoff,
                dsub=dsub,
                thread=1,
                verbose=0,
            )
    return m


def dev_scores(head, proba, dev_docs, guarded=True):
    """Raw and dev-cross-fitted figures."""
    labels = LABELS[head]
    docs = [d for d in dev_docs if d.labels[head] is not None]
    y = np.array([labels.index(d.labels[head]) for d in docs])
    src = np.array([d.source for d in docs])
    out = {}
    raw = evaluate(labels, y, proba.argmax(1), proba)
    out["raw"] = raw
    cal = np.zeros_like(proba)
    dec = np.zeros(len(y), int)
    g = 0 if (head == CONTENT_TYPE and guarded) else None
    for s in np.unique(src):
        o = src != s
        T = fit_temperature([(proba[o], y[o])])
        r = Rule(T)
        if g is not None:
            r = Rule(T, g, fit_threshold(r.calibrate(proba[o]), y[o], g))
        m = src == s
        cal[m] = r.calibrate(proba[m])
        dec[m] = r.decide(cal[m])
    out["cf"] = evaluate(labels, y, dec, cal)
    w = src == "web_crawl"
    out["web_raw"] = evaluate(labels, y[w], proba[w].argmax(1), proba[w])
    out["web_cf"] = evaluate(labels, y[w], dec[w], cal[w])
    out["books_cf"] = evaluate(labels, y[~w], dec[~w], cal[~w])
    return out, (proba, y, src)


def summarise(name, c, t):
    def f(r):
        return r["macro_f1"]

    row = dict(
        name=name,
        c_raw=f(c["raw"]),
        p_raw=c["raw"]["per_class"]["procedural"]["precision"],
        ece_raw=c["raw"]["ece"],
        c_cf=f(c["cf"]),
        p_cf=c["cf"]["per_class"]["procedural"]["precision"],
        r_cf=c["cf"]["per_class"]["procedural"]["recall"],
        ece_cf=c["cf"]["ece"],
        web_raw=f(c["web_raw"]),
        web_cf=f(c["web_cf"]),
        books_cf=f(c["books_cf"]),
        t_raw=f(t["raw"]),
        t_cf=f(t["cf"]),
        t_ece_cf=t["cf"]["ece"],
        t_web=f(t["web_cf"]),
    )
    return row


def fmt(row):
    return (
        f"{row['name']:<40} content raw {row['c_raw']:.3f} P {row['p_raw']:.3f} ECE {row['ece_raw']:.3f} | cf {row['c_cf']:.3f} "
        f"P {row['p_cf']:.3f} R {row['r_cf']:.3f} ECE {row['ece_cf']:.3f} | web raw {row['web_raw']:.3f} cf {row['web_cf']:.3f} books {row['books_cf']:.3f}"
        f" | task raw {row['t_raw']:.3f} cf {row['t_cf']:.3f} ECE {row['t_ece_cf']:.3f} web {row['t_web']:.3f}"
    )
