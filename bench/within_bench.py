"""``make bench`` (within-type diversity part): the sanity checks the README quotes,
on real sources of ../shared/data, and the cost of the figure per document.

- near-duplicates: 1,000 copies of one GSM8K problem, 5% of the words replaced;
- one source vs k unrelated sources: 1,000 documents of each source, then 1,000
  drawn equally from k of them;
- stability: 1,000 documents of GSM8K and of MedQuAD under seeds 0-9 (spread).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np
from prepare_bench import machine_info

from mixtures.within_sanity import near_duplicates, sample_of, vendi_of_texts
from procmix_core.atomic import write_json

SOURCES = (
    "gsm8k",
    "beeton_household",
    "learnxinyminutes",
    "needlework_pg20776",
    "git_doc",
    "dudeney_pg16713",
    "fcla",
    "medquad",
)


def _texts(data: Path, name: str) -> list[str]:
    with gzip.open(data / f"{name}.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def run(data: Path) -> dict:
    texts = {s: _texts(data, s) for s in SOURCES}
    started = time.process_time()
    single = {s: vendi_of_texts(sample_of(texts[s], 1000)) for s in SOURCES}
    cpu = time.process_time() - started
    mixed = {}
    for k in (2, 4, 8):
        docs = sum((sample_of(texts[s], 1000 // k) for s in SOURCES[:k]), [])
        mixed[str(k)] = {
            "vs": vendi_of_texts(docs),
            "largest_single": max(single[s] for s in SOURCES[:k]),
        }
    spread = {}
    for s in ("gsm8k", "medquad"):
        values = [vendi_of_texts(sample_of(texts[s], 1000, seed)) for seed in range(10)]
        spread[s] = {
            "mean": float(np.mean(values)),
            "min": float(min(values)),
            "max": float(max(values)),
            "relative_std": float(np.std(values) / np.mean(values)),
        }
    return {
        "near_duplicates_vs": vendi_of_texts(near_duplicates(texts["gsm8k"][0], 1000)),
        "exact_copies_vs": vendi_of_texts([texts["gsm8k"][0]] * 1000),
        "single_source_vs": single,
        "k_sources_vs": mixed,
        "seed_spread": spread,
        "cpu_s_per_1000_docs": cpu / len(SOURCES),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--out", default="bench/results/within.json")
    args = parser.parse_args()
    result = {"machine": machine_info(), **run(Path(args.data))}
    write_json(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
