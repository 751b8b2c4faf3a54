"""The hash functions more than one package relies on: SplitMix64 and file sha256.

SplitMix64 (Steele, Lea and Flood 2014) is the one integer mixer procmix uses:
MinHash seeds and mixes shingle hashes with it, LSH band hashes use its
constants, and the mixture sampler draws its seeded keys from it. Changing any
constant here changes every signature, band and selection, so none may change.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

# 2**64 / golden ratio: SplitMix64's state increment, also a good odd multiplier.
GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
MIX_MULTIPLIER_1 = np.uint64(0xBF58476D1CE4E5B9)
MIX_MULTIPLIER_2 = np.uint64(0x94D049BB133111EB)
FILE_CHUNK_BYTES = 1 << 20


def mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function over a uint64 array, in place; returns ``z``.

    Each output bit depends on every input bit.
    """
    with np.errstate(over="ignore"):
        z ^= z >> np.uint64(30)
        z *= MIX_MULTIPLIER_1
        z ^= z >> np.uint64(27)
        z *= MIX_MULTIPLIER_2
        z ^= z >> np.uint64(31)
    return z


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's next output from each state in ``x``, as a new uint64 array."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + GOLDEN_GAMMA
    return mix64(z)


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes, read in chunks (shards and models can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(FILE_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
