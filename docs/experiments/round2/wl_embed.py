"""Builds /tmp/wl_words_raw.npy and /tmp/wl_words.txt for exp9.py/exp10.py: wordllama 0.4.0.post1
(PyPI, MIT; its 256-d weights ship in the wheel) embeds every word of the MiniLM word list
plus "?" and "!". Run in a venv with `pip install wordllama` (torch not needed)."""

import time
from pathlib import Path

import numpy as np
import wordllama
from wordllama import WordLlama

d = np.load("/work/wt14/classifiers/vectors/minilm_words.npz")
words = d["words"].tobytes().decode().split("\n")
words = words + ["?", "!"]
wl = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
t = time.time()
E = wl.embed(words, norm=False, batch_size=4096)
print(E.shape, E.dtype, time.time() - t)
np.save("/tmp/wl_words_raw.npy", E.astype(np.float32))
open("/tmp/wl_words.txt", "w").write("\n".join(words))
