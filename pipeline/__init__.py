"""procmix pipeline: streaming read, validation, near-dedup, ledger and corpus stats."""

__version__ = "0.1.0"
