"""Document embeddings for within-type diversity: sublinear TF-IDF over words,
projected on a 64-dimensional LSA basis (randomized SVD) fitted once on unlabelled
text and shipped in ``mixtures/models/lsa64.npz``.

No label trains it, it runs on CPU in milliseconds per thousand documents, and
it needs nothing from the network. The basis is fixed rather than fitted on each
sample: an SVD of the sample itself spreads any set, however uniform, over all
its dimensions, so one source would score as high as many (README, Within-type
diversity). ``make embedding`` refits it: ``python -m mixtures.embedding CORPUS``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import scipy.sparse as sp
import xxhash
from threadpoolctl import threadpool_limits

from mixtures.sampler import base_hashes, seeded_keys
from procmix_core.atomic import atomic_path

MODEL_PATH = Path(__file__).parent / "models" / "lsa64.npz"
# Only the start of a long document is read: it bounds the cost per document,
# and a document's opening says what it is about.
WINDOW_CHARS = 4000
# The basis fit's seeded stream (the sampler uses 0 and 1, within-type samples 2).
FIT_STREAM = 3


@dataclass(frozen=True)
class EmbeddingModel:
    vocab: np.ndarray  # sorted xxh3-64 hashes of the words
    idf: np.ndarray  # per word: ln((1 + N) / (1 + df)) + 1 over the fit's documents
    vectors: np.ndarray  # words x dims: the LSA basis (right singular vectors)
    meta: dict
    sha256: str
    file: str

    @property
    def dims(self) -> int:
        return self.vectors.shape[1]

    def describe(self) -> dict:
        """What a manifest records of the model."""
        return {"file": self.file, "sha256": self.sha256, "dims": self.dims}


@cache
def load_model(path: str | os.PathLike = MODEL_PATH) -> EmbeddingModel:
    path = Path(path)
    data = path.read_bytes()
    with np.load(path) as npz:
        return EmbeddingModel(
            vocab=npz["vocab"],
            idf=npz["idf"].astype(np.float64),
            vectors=npz["vectors"].astype(np.float64),
            meta=json.loads(str(npz["meta"])),
            sha256=hashlib.sha256(data).hexdigest(),
            file=path.name,
        )


def word_hashes(texts: pa.Array | list[str]) -> tuple[np.ndarray, np.ndarray]:
    """xxh3-64 of each word of each text's window, and the text each word belongs to.

    Words: lower-cased runs of letters and digits; digit runs fold to ``0``, so
    worked problems that differ only in their numbers read as the same words.
    Arrow kernels split the batch; only its distinct words are hashed in Python.
    """
    texts = pa.array(texts, pa.large_string()) if not isinstance(texts, pa.Array) else texts
    texts = pc.utf8_slice_codeunits(texts.cast(pa.large_string()), 0, WINDOW_CHARS)
    folded = pc.replace_substring_regex(pc.utf8_lower(texts), r"\d+", "0")
    words = pc.split_pattern_regex(folded, r"[^\p{L}\p{N}]+")
    per_text = pc.list_value_length(words).fill_null(0).to_numpy()
    encoded = pc.dictionary_encode(pc.list_flatten(words))
    distinct = encoded.dictionary.to_pylist()
    hashes = np.fromiter(map(xxhash.xxh3_64_intdigest, distinct), np.uint64, len(distinct))
    tokens = encoded.indices.to_numpy()
    text_of = np.repeat(np.arange(len(texts)), per_text)
    if "" in distinct:  # separators at a text's ends split into empty strings
        keep = tokens != distinct.index("")
        tokens, text_of = tokens[keep], text_of[keep]
    return hashes[tokens], text_of


def term_counts(texts: pa.Array | list[str], vocab: np.ndarray) -> sp.csr_matrix:
    """Documents x vocabulary counts of the words of ``vocab`` (sorted hashes)."""
    hashes, text_of = word_hashes(texts)
    column = np.minimum(np.searchsorted(vocab, hashes), len(vocab) - 1)
    known = vocab[column] == hashes
    counts = sp.csr_matrix(
        (np.ones(int(known.sum())), (text_of[known], column[known])),
        shape=(len(texts), len(vocab)),
    )
    counts.sum_duplicates()
    return counts


def tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear term frequency (1 + ln count) times idf, rows scaled to unit length
    (rows without a known word stay zero)."""
    weighted = counts.copy()
    weighted.data = (1.0 + np.log(weighted.data)) * idf[weighted.indices]
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    return sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ weighted


def embed(texts: pa.Array | list[str], model: EmbeddingModel | None = None) -> np.ndarray:
    """Unit-length embeddings, one row per text; a text with no word of the model's
    vocabulary gets a zero row (callers count those)."""
    model = model or load_model()
    with threadpool_limits(1):
        coords = tfidf(term_counts(texts, model.vocab), model.idf) @ model.vectors
    norms = np.linalg.norm(coords, axis=1, keepdims=True)
    return np.divide(coords, norms, out=np.zeros_like(coords), where=norms > 0)


def randomized_svd_basis(x: sp.csr_matrix, dims: int, seed: int, power: int = 3) -> np.ndarray:
    """The top ``dims`` right singular vectors of ``x`` (Halko, Martinsson and Tropp
    2011: a seeded Gaussian range finder, ``power`` re-orthogonalised power iterations)."""
    rng = np.random.default_rng(seed)
    omega = rng.standard_normal((x.shape[0], dims + 10))
    q, _ = np.linalg.qr(x.T @ omega)
    for _ in range(power):
        z, _ = np.linalg.qr(x @ q)
        q, _ = np.linalg.qr(x.T @ z)
    _, _, vt = np.linalg.svd(x @ q, full_matrices=False)
    return q @ vt[:dims].T


def reference_texts(corpus: Path, per_source: int, seed: int) -> tuple[list[str], dict]:
    """Up to ``per_source`` documents of each source of a prepared corpus (those with
    the smallest seeded keys), read one docs file at a time."""
    files = sorted((corpus / "docs").glob("*.parquet"))
    meta = [pq.read_table(f, columns=["doc_key", "source"]) for f in files]
    table = pa.concat_tables(meta)
    keys = seeded_keys(base_hashes(table["doc_key"].to_pylist()), seed, FIT_STREAM)
    order = np.lexsort((keys, np.asarray(table["source"].to_pylist(), dtype=object)))
    sources = np.asarray(table["source"].to_pylist(), dtype=object)[order]
    first = np.r_[True, sources[1:] != sources[:-1]]
    rank = np.arange(len(order)) - np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    chosen = np.zeros(len(order), dtype=bool)
    chosen[order[rank < per_source]] = True
    texts, start = [], 0
    for f, part in zip(files, meta, strict=True):
        rows = np.flatnonzero(chosen[start : start + part.num_rows])
        start += part.num_rows
        if len(rows):
            texts += pq.read_table(f, columns=["text"])["text"].take(rows).to_pylist()
    counts = dict(zip(*np.unique(sources[rank < per_source], return_counts=True), strict=True))
    return texts, {str(k): int(v) for k, v in counts.items()}


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """An uncompressed-index, deflated .npz with fixed timestamps (``np.savez`` stamps
    the time), written atomically: the same fit gives the same bytes and sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with z.open(info, "w") as f:
                np.lib.format.write_array(f, np.asarray(array), allow_pickle=False)


def fit(
    corpus: str | os.PathLike,
    out: str | os.PathLike = MODEL_PATH,
    per_source: int = 300,
    vocab_size: int = 16384,
    dims: int = 64,
    seed: int = 0,
) -> dict:
    """Fit the vocabulary (most frequent words by document frequency), idf and LSA
    basis on a source-stratified sample of a prepared corpus; write ``out``."""
    texts, sources = reference_texts(Path(corpus), per_source, seed)
    words = np.unique(word_hashes(texts)[0])
    counts = term_counts(texts, words)
    docs_with = np.bincount(counts.indices, minlength=len(words))
    top = np.sort(np.argsort(-docs_with, kind="stable")[:vocab_size])
    vocab = words[top]
    idf = np.log((1 + len(texts)) / (1 + docs_with[top])) + 1
    with threadpool_limits(1):
        basis = randomized_svd_basis(tfidf(counts[:, top], idf), dims, seed)
    meta = {
        "corpus_documents": int(sum(sources.values())),
        "per_source": per_source,
        "sources": len(sources),
        "vocab": int(len(vocab)),
        "dims": dims,
        "seed": seed,
        "window_chars": WINDOW_CHARS,
    }
    write_npz(
        Path(out),
        vocab=vocab,
        idf=idf.astype(np.float32),
        vectors=basis.astype(np.float16),
        meta=np.array(json.dumps(meta, sort_keys=True)),
    )
    load_model.cache_clear()
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mixtures.embedding",
        description="Fit the within-type diversity embedding (vocabulary, idf, LSA basis) on "
        "a source-stratified sample of a prepared corpus's documents.",
    )
    parser.add_argument("corpus", help="a prepare output folder (e.g. out/demo)")
    parser.add_argument("-o", "--out", default=str(MODEL_PATH), help="model file to write")
    parser.add_argument("--per-source", type=int, default=300, help="documents per source")
    parser.add_argument("--vocab", type=int, default=16384, help="words kept (most frequent)")
    parser.add_argument("--dims", type=int, default=64, help="LSA dimensions")
    parser.add_argument("--seed", type=int, default=0, help="sample and SVD seed")
    args = parser.parse_args(argv)
    meta = fit(args.corpus, args.out, args.per_source, args.vocab, args.dims, args.seed)
    print(f"wrote {args.out}: {json.dumps(meta, sort_keys=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
