"""Reader: every document exactly once across ranks and workers, per-epoch order, resume."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest

from mixtures.mix import mix
from mixtures.reader import MixtureReader, worker_slot
from mixtures.spec import parse_spec
from support.synthetic import synthetic_docs, synthetic_spec, write_corpus


def _mixture(folder: Path, order: str = "shuffled") -> Path:
    corpus = write_corpus(folder / "corpus", synthetic_docs(800))
    raw = synthetic_spec(corpus, tokens=60_000, shard={"rows": 70}, order=order)
    mix(parse_spec(raw), folder / "mix")
    return folder / "mix"


@pytest.fixture(scope="module")
def mixture(tmp_path_factory) -> Path:
    return _mixture(tmp_path_factory.mktemp("reader"))


def _keys(mixdir: Path) -> list[str]:
    return pq.read_table(sorted(mixdir.glob("shard-*.parquet")), columns=["doc_key"])[
        "doc_key"
    ].to_pylist()


def test_every_document_once_across_ranks_and_workers(mixture):
    seen = Counter()
    sizes = []
    for rank in range(2):
        for worker in range(3):
            reader = MixtureReader(mixture, rank, 2, worker, 3, seed=5)
            rows = list(reader)
            assert len(rows) == len(reader)
            sizes.append(len(rows))
            seen.update(r["doc_key"] for r in rows)
    assert seen == Counter(_keys(mixture))
    assert max(sizes) - min(sizes) <= len(list(mixture.glob("shard-*.parquet")))


def test_epochs_reshuffle_deterministically(mixture):
    def keys(epoch, seed=1):
        return [r["doc_key"] for r in MixtureReader(mixture, seed=seed, epoch=epoch)]

    assert keys(0) == keys(0)
    assert keys(0) != keys(1)
    assert sorted(keys(0)) == sorted(keys(1)) == sorted(_keys(mixture))
    assert keys(0, seed=2) != keys(0)


def test_resumes_mid_epoch(mixture):
    full = [r["doc_key"] for r in MixtureReader(mixture, 1, 2, 0, 2, seed=3)]
    reader = MixtureReader(mixture, 1, 2, 0, 2, seed=3)
    it = iter(reader)
    head = [next(it)["doc_key"] for _ in range(57)]
    state = reader.state_dict()
    assert state["position"] == 57 and state["epoch"] == 0
    resumed = MixtureReader(mixture, 1, 2, 0, 2, seed=3)
    resumed.load_state_dict(state)
    assert head + [r["doc_key"] for r in resumed] == full
    assert resumed.state_dict()["epoch"] == 1 and resumed.state_dict()["position"] == 0
    with pytest.raises(ValueError, match="state is for"):
        MixtureReader(mixture, 0, 2, 0, 2, seed=3).load_state_dict(state)


def test_structured_first_order_is_kept(tmp_path):
    mixdir = _mixture(tmp_path, order="structured_first")
    rows = list(MixtureReader(mixdir, columns=["doc_key", "task_type"]))
    assert [r["doc_key"] for r in rows] == _keys(mixdir)
    structured = [r["task_type"] in {"math", "code", "computing", "reasoning"} for r in rows]
    assert structured == sorted(structured, reverse=True)


def test_token_ids_and_worker_slot(mixture, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "math": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "tok.json"))
    first = next(iter(MixtureReader(mixture, tokenizer=tmp_path / "tok.json")))
    assert isinstance(first, list) and set(first) <= {0, 1}
    assert next(iter(MixtureReader(mixture, tokenizer=str(tmp_path / "tok.json")))) == first
    assert worker_slot(None) == (0, 1)
    assert worker_slot(SimpleNamespace(id=2, num_workers=4)) == (2, 4)
    with pytest.raises(ValueError, match="expected 0 <= rank < world_size"):
        MixtureReader(mixture, rank=2, world_size=2)


def test_torch_adapter_with_a_stand_in_torch(mixture, monkeypatch):
    """torch is not installed here: a minimal stand-in checks the adapter's wiring."""
    import sys
    import types

    worker = SimpleNamespace(id=1, num_workers=2)
    data = types.ModuleType("torch.utils.data")
    data.IterableDataset = object
    data.get_worker_info = lambda: worker
    dist = types.ModuleType("torch.distributed")
    dist.is_available = lambda: True
    dist.is_initialized = lambda: True
    dist.get_rank = lambda: 1
    dist.get_world_size = lambda: 2
    torch = types.ModuleType("torch")
    torch.distributed = dist
    torch.utils = types.ModuleType("torch.utils")
    torch.utils.data = data
    for name, module in [
        ("torch", torch),
        ("torch.utils", torch.utils),
        ("torch.utils.data", data),
        ("torch.distributed", dist),
    ]:
        monkeypatch.setitem(sys.modules, name, module)
    from mixtures.reader import torch_dataset

    dataset = torch_dataset(mixture, seed=4, columns=["doc_key"])
    dataset.set_epoch(2)
    expected = list(MixtureReader(mixture, 1, 2, 1, 2, seed=4, epoch=2, columns=["doc_key"]))
    assert list(dataset) == expected
    # Resume mid-epoch through the dataset's state dict, in a fresh dataset.
    dataset.set_epoch(2)
    stream = iter(dataset)
    head = [next(stream) for _ in range(7)]
    state = dataset.state_dict()
    assert state["epoch"] == 2 and state["position"] == 7
    resumed = torch_dataset(mixture, seed=4, columns=["doc_key"])
    resumed.load_state_dict(state)
    assert resumed.state_dict() == state
    assert head + list(resumed) == expected
    with pytest.raises(ValueError, match="state is for"):
        torch_dataset(mixture, seed=5, columns=["doc_key"]).load_state_dict(state)
