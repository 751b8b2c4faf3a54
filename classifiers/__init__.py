"""procmix classifiers: taxonomy, preprocessing, fastText training, evaluation, tagging.

Depends on ``procmix_core`` only: never on ``pipeline`` or ``mixtures``.
"""

# First: procmix_core picks Arrow's allocator, which must happen before pyarrow loads.
import procmix_core  # noqa: F401
