"""procmix mixtures: spec, optimiser, sampler, shard writer, manifest, verify, reader.

Reads what ``pipeline`` wrote through ``procmix_core.layout``; imports
``procmix_core`` and ``classifiers.taxonomy``, nothing else of procmix.
"""

# First: procmix_core picks Arrow's allocator, which must happen before pyarrow loads.
import procmix_core  # noqa: F401

# The files a mixture folder holds beside its shards.
MANIFEST = "manifest.json"
SWEEP_FILE = "sweep.json"
