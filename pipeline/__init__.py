"""procmix pipeline: streaming read, validation, near-dedup, ledger and corpus stats."""

# First: procmix_core picks Arrow's allocator, which must happen before pyarrow loads.
import procmix_core  # noqa: F401

# The modules every local worker imports once, in the fork server, before its first rank.
WORKER_PRELOAD = ("pipeline.executors", "pipeline.ingest", "pipeline.dedup", "pipeline.finalize")
