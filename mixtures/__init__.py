"""procmix mixtures: spec, optimiser, sampler, shard writer, manifest, verify, reader."""

# The files a mixture folder holds beside its shards.
MANIFEST = "manifest.json"
SWEEP_FILE = "sweep.json"
