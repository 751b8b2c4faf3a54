"""The published layout of a corpus folder (``procmix prepare -o OUT``): what readers may rely on.

``pipeline.layout.Layout`` extends it with the run's intermediates; ``mixtures``
reads a corpus through these names only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DOCS_DIR = "docs"
LEDGER_DIR = "ledger"
QUARANTINE_DIR = "quarantine"
SUMMARY_FILE = "summary.json"
RUN_FILE = "run.json"
STATS_DB = "stats.duckdb"
PARQUET_GLOB = "*.parquet"


@dataclass(frozen=True)
class CorpusLayout:
    """Paths under a corpus folder ``out``."""

    out: Path

    @property
    def docs(self) -> Path:
        """Kept documents, one Parquet file per input file."""
        return self.out / DOCS_DIR

    @property
    def ledger(self) -> Path:
        """One row per input record: its fate and why."""
        return self.out / LEDGER_DIR

    @property
    def quarantine(self) -> Path:
        return self.out / QUARANTINE_DIR

    @property
    def summary(self) -> Path:
        """The run summary: counts, reasons, timings, the classifiers' confusion matrices."""
        return self.out / SUMMARY_FILE

    @property
    def run_config(self) -> Path:
        """What determined the output (inputs and settings): a rerun that matches resumes."""
        return self.out / RUN_FILE

    @property
    def stats_db(self) -> Path:
        return self.out / STATS_DB

    def docs_files(self) -> list[Path]:
        return sorted(self.docs.glob(PARQUET_GLOB))
