"""``manifest.json``: what was asked, what was planned, what was written.

No timestamps or timings: the same corpus, spec and seed give the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mixtures.corpus import Corpus
from mixtures.figures import source_shares_by_group
from mixtures.optimiser import Confusion, Solution
from mixtures.spec import MixSpec
from procmix_core import __version__
from procmix_core.hashing import file_sha256
from procmix_core.tokens import ESTIMATE_RULE

# 2: joint rounding; solution.granularity per procedural task type.
# 3: decontamination (index digest, exclusion per benchmark), rematched by verify.
# 4: achieved.within_diversity (Vendi score per task type and combined).
MANIFEST_VERSION = 4


def _classifiers(corpus: Corpus) -> dict:
    return {
        role: {k: entry.get(k) for k in ("model", "sha256", "version")}
        for role, entry in sorted(corpus.classifiers.items())
        if isinstance(entry, dict)
    }


def _noise_model(confusion: Confusion | None) -> dict | None:
    """The task-type confusion matrix verify needs to recompute noise-corrected D1."""
    if confusion is None:
        return None
    return {"labels": confusion.labels, "p_true_given_pred": confusion.p_true_given_pred.tolist()}


def _tokenizer(spec: MixSpec) -> dict:
    if spec.tokenizer is None:
        return {"kind": "estimate", "rule": f"{ESTIMATE_RULE}, as prepare stores n_tokens"}
    return {
        "kind": "tokenizer.json",
        "path": spec.tokenizer,
        "sha256": file_sha256(Path(spec.tokenizer)),
    }


def _buckets(corpus: Corpus, solution: Solution, selected: dict) -> list[dict]:
    b = corpus.buckets
    sizes = corpus.docs["n_tokens"].to_numpy().astype(float)
    squares = np.bincount(corpus.docs["bucket"].to_numpy(), weights=sizes**2, minlength=len(b))
    rows = []
    for i in range(len(b)):
        key = (b.source[i], b.content_type[i], b.task_type[i])
        rows.append(
            {
                "bucket": b.name(i),
                "source": b.source[i],
                "content_type": b.content_type[i],
                "task_type": b.task_type[i],
                "available_docs": int(b.docs[i]),
                "available_tokens": int(b.tokens[i]),
                # Size-biased mean: the expected size of the document a prefix ends in.
                "typical_doc_tokens": float(squares[i] / b.tokens[i]) if b.tokens[i] else 0.0,
                "target_tokens": float(solution.targets[i]),
                "selected_tokens": int(selected[key]),
            }
        )
    return rows


def planned_source_shares(solution: Solution, corpus: Corpus) -> dict:
    b = corpus.buckets
    targets = {
        (b.source[i], b.content_type[i], b.task_type[i]): float(solution.targets[i])
        for i in range(len(b))
    }
    return source_shares_by_group(targets)


def build_manifest(
    spec: MixSpec,
    corpus: Corpus,
    solution: Solution,
    selected: dict,
    achieved: dict,
    shards: list[dict],
    blocks: dict[str, str],
    confusion: Confusion | None,
    granularity: dict[str, dict[str, float]],
    decontamination: dict,
) -> dict:
    return {
        "manifest_version": MANIFEST_VERSION,
        "procmix": __version__,
        "name": spec.name,
        "seed": spec.seed,
        "spec": spec.to_dict(),
        "corpus": {
            "path": str(corpus.root),
            "xxh3_128": corpus.digest,
            "documents": corpus.docs.num_rows,
            "tokens": int(corpus.buckets.tokens.sum()),
            "labels": spec.labels,
            "null_labels_counted_as_other": corpus.null_labels,
            # Only with labels.min_confidence: a spec without it records what it did before.
            **({"abstained": corpus.abstained} if corpus.abstained is not None else {}),
        },
        "decontamination": decontamination,
        "classifiers": _classifiers(corpus),
        "noise_model": _noise_model(confusion),
        "tokenizer": _tokenizer(spec),
        "solution": {
            "tau": solution.tau,
            "planned": solution.planned,
            "warnings": solution.warnings,
            "task_shares": solution.task_shares,
            "source_shares": planned_source_shares(solution, corpus),
            "buckets": _buckets(corpus, solution, selected),
            "granularity": granularity,
        },
        "achieved": {**achieved, "source_shares_by_group": source_shares_by_group(selected)},
        "blocks": blocks,
        "shards": shards,
    }
