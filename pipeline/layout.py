"""Where every file of a prepare run lives, final outputs and intermediates alike.

The published part (docs, ledger, quarantine, summary, stats) is
``procmix_core.layout.CorpusLayout``, which readers of a corpus use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from procmix_core.atomic import atomic_path
from procmix_core.layout import CorpusLayout


@dataclass(frozen=True)
class DedupParams:
    """MinHash LSH settings. ``bands * rows`` signature values are bucketed."""

    num_perm: int = 128
    bands: int = 16
    rows: int = 8
    threshold: float = 0.8
    seed: int = 1
    bucket_partitions: int = 1

    def __post_init__(self) -> None:
        if self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"bands x rows = {self.bands * self.rows} exceeds --num-perm {self.num_perm}"
            )
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"--threshold must be in (0, 1], got {self.threshold}")
        if self.bucket_partitions < 1:
            raise ValueError("--bucket-partitions must be at least 1")

    @property
    def exact_band(self) -> int:
        """The pseudo-band index whose 'hash' is the exact content hash."""
        return self.bands


@dataclass(frozen=True)
class Layout(CorpusLayout):
    """Paths under a prepare output folder ``out``: the published ones and the intermediates."""

    @classmethod
    def names(cls) -> Layout:
        """The same paths relative to the folder: what a step ``needs`` from a remote run."""
        return cls(Path())

    @property
    def quarantine_files(self) -> Path:
        return self.quarantine / "files"

    @property
    def work(self) -> Path:
        return self.out / "_work"

    @property
    def logs(self) -> Path:
        return self.out / "_logs"

    @property
    def clusters(self) -> Path:
        return self.work / "clusters.parquet"

    def docs_file(self, rank: int) -> Path:
        return self.docs / f"{rank:05d}.parquet"

    def ledger_file(self, rank: int) -> Path:
        return self.ledger / f"{rank:05d}.parquet"

    def quarantine_file(self, rank: int) -> Path:
        return self.quarantine / f"{rank:05d}.parquet"

    def ingest_docs(self, rank: int) -> Path:
        return self.work / "ingest" / f"{rank:05d}.parquet"

    def ingest_report(self, rank: int) -> Path:
        return self.work / "ingest" / f"{rank:05d}.json"

    def read_report(self, rank: int) -> Path:
        return self.work / "ingest" / f"{rank:05d}.read.json"

    def signatures(self, rank: int) -> Path:
        return self.work / "signatures" / f"{rank:05d}.u32"

    def band_hashes(self, rank: int, band: int) -> Path:
        """Band ``band``'s hashes, one uint64 per document; the exact band has two files."""
        return self.work / "bands" / f"{rank:05d}" / f"{band:03d}.u64"

    def filled_bins(self, rank: int) -> Path:
        """How many MinHash bins each document filled itself, one uint16 per document."""
        return self.work / "signatures" / f"{rank:05d}.filled.u16"

    def raw_texts(self, rank: int) -> Path:
        """Every document's UTF-8 text back to back, uncompressed: random access for dedup."""
        return self.work / "texts" / f"{rank:05d}.utf8"

    def raw_text_ends(self, rank: int) -> Path:
        """Where each document's text ends in ``raw_texts``, one int64 per document."""
        return self.work / "texts" / f"{rank:05d}.ends.i64"

    def content_hash_high(self, rank: int) -> Path:
        return self.work / "bands" / f"{rank:05d}" / "content_high.u64"

    def edges(self, band: int, partition: int) -> Path:
        return self.work / "edges" / f"{band:03d}_{partition:04d}.npy"

    def read_ingest_report(self, rank: int) -> dict:
        return json.loads(self.ingest_report(rank).read_text())

    @property
    def doc_offsets_file(self) -> Path:
        return self.work / "doc_offsets.npy"

    def write_doc_offsets(self, ranks: int) -> None:
        """After ingest, once: every later task reads this file, not all ``ranks`` reports."""
        counts = [self.read_ingest_report(r)["documents"] for r in range(ranks)]
        with atomic_path(self.doc_offsets_file) as tmp, tmp.open("wb") as f:
            np.save(f, np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]))

    def doc_offsets(self) -> np.ndarray:
        """Global index of each rank's first document (documents numbered in rank order)."""
        return np.load(self.doc_offsets_file)
