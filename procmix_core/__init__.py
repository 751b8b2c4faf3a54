"""What pipeline, classifiers and mixtures share: it imports none of them.

Atomic writes, the fork server, hashing, the token estimate, the corpus
folder's published layout, the output-folder claim and the one JSONL/Parquet
record reader live here so that each contract has one definition.
"""

import os

__version__ = "0.1.0"

# procmix allocates and frees one batch after another. pyarrow's default
# allocator (mimalloc) keeps freed pages, so a worker's RSS grows with the
# batches it has seen (~100 MB more per process at 4x the sample corpus); the
# system allocator returns them and is as fast here. Arrow reads this once, at
# its first import, and worker processes inherit it from the environment.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
