"""Read a mixture in a training job: split by rank and dataloader worker,
shuffled per epoch, resumable from a small state dict.

Each shard is cut into ``world_size * num_workers`` contiguous row ranges,
one per (rank, worker) slot, so every document is read by exactly one slot
and a slot reads only its own rows. Shards were shuffled when written; per
epoch the reader also permutes the shard order and the rows inside a slot's
range with a generator seeded by (seed, epoch, shard), unless the mixture was
written ``structured_first``, whose order it keeps.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mixtures import MANIFEST

DEFAULT_COLUMNS = ("doc_key", "text")


class MixtureReader:
    """Iterate one slot's documents (dicts of ``columns``, or token ids with a tokenizer)."""

    def __init__(
        self,
        mixdir: str | os.PathLike,
        rank: int = 0,
        world_size: int = 1,
        worker: int = 0,
        num_workers: int = 1,
        seed: int = 0,
        epoch: int = 0,
        columns: Sequence[str] = DEFAULT_COLUMNS,
        tokenizer: Any = None,
        shuffle: bool | None = None,
    ):
        if not (0 <= rank < world_size and 0 <= worker < num_workers):
            raise ValueError(
                f"expected 0 <= rank < world_size and 0 <= worker < num_workers, found "
                f"rank {rank}, world_size {world_size}, worker {worker}, num_workers {num_workers}"
            )
        self.mixdir = Path(mixdir)
        manifest = json.loads((self.mixdir / MANIFEST).read_text())
        self.shards = [(s["file"], s["rows"]) for s in manifest["shards"]]
        self.slots = world_size * num_workers
        self.slot = rank * num_workers + worker
        self.seed = seed
        self.epoch = epoch
        self.position = 0
        self.columns = ["text"] if tokenizer is not None else list(columns)
        self.tokenizer = _tokenizer(tokenizer)
        self.shuffle = (
            manifest["spec"]["order"] != "structured_first" if shuffle is None else shuffle
        )

    def _range(self, rows: int) -> tuple[int, int]:
        return rows * self.slot // self.slots, rows * (self.slot + 1) // self.slots

    def __len__(self) -> int:
        return sum(hi - lo for lo, hi in (self._range(n) for _, n in self.shards))

    def _rng(self, *extra: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, *extra])

    def _shard_order(self) -> np.ndarray:
        order = np.arange(len(self.shards))
        return self._rng().permutation(order) if self.shuffle else order

    def _read(self, index: int) -> pa.Table:
        name, rows = self.shards[index]
        lo, hi = self._range(rows)
        pf = pq.ParquetFile(self.mixdir / name)
        starts = np.cumsum(
            [0] + [pf.metadata.row_group(g).num_rows for g in range(pf.num_row_groups)]
        )
        groups = [g for g in range(pf.num_row_groups) if starts[g] < hi and starts[g + 1] > lo]
        if not groups:
            return pa.table({c: pa.array([], pf.schema_arrow.field(c).type) for c in self.columns})
        table = pf.read_row_groups(groups, columns=self.columns)
        table = table.slice(lo - starts[groups[0]], hi - lo)
        if self.shuffle:
            table = table.take(pa.array(self._rng(index).permutation(table.num_rows)))
        return table

    def __iter__(self) -> Iterator[Any]:
        skip = self.position
        for index in self._shard_order():
            lo, hi = self._range(self.shards[index][1])
            if skip >= hi - lo:
                skip -= hi - lo
                continue
            table = self._read(int(index)).slice(skip)
            skip = 0
            for row in table.to_pylist():
                self.position += 1
                yield self._item(row)
        self.epoch += 1
        self.position = 0

    def _item(self, row: dict) -> Any:
        if self.tokenizer is None:
            return row
        return self.tokenizer.encode(row["text"], add_special_tokens=False).ids

    def set_epoch(self, epoch: int) -> None:
        self.epoch, self.position = epoch, 0

    def state_dict(self) -> dict:
        """Where this slot is: enough to resume after a restart."""
        return {
            "epoch": self.epoch,
            "position": self.position,
            "seed": self.seed,
            "slot": self.slot,
            "slots": self.slots,
        }

    def load_state_dict(self, state: dict) -> None:
        mine = {"seed": self.seed, "slot": self.slot, "slots": self.slots}
        theirs = {k: state.get(k) for k in mine}
        if theirs != mine:
            raise ValueError(f"state is for {theirs}; this reader is {mine}")
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


def _tokenizer(tokenizer: Any) -> Any:
    """None, a tokenizer object (with ``encode``), or a ``tokenizer.json`` path loaded here."""
    if isinstance(tokenizer, str | os.PathLike):
        from tokenizers import Tokenizer

        return Tokenizer.from_file(os.fspath(tokenizer))
    return tokenizer


def worker_slot(worker_info: Any) -> tuple[int, int]:
    """(worker id, number of workers) from torch's ``get_worker_info()`` (None: main process)."""
    return (0, 1) if worker_info is None else (worker_info.id, worker_info.num_workers)


def torch_dataset(
    mixdir: str | os.PathLike, rank: int | None = None, world_size: int | None = None, **kwargs: Any
) -> Any:
    """A ``torch.utils.data.IterableDataset`` over the mixture (needs torch installed).

    Rank and world size default to ``torch.distributed``'s when it is initialised;
    each DataLoader worker reads its own slot. Call ``set_epoch`` before each epoch.
    ``state_dict`` / ``load_state_dict`` pass through to the slot's ``MixtureReader``:
    a loaded state resumes the next ``__iter__`` mid-epoch. They are called where the
    slot's reader runs, as torchdata's ``StatefulDataLoader`` does in each worker; a
    plain ``DataLoader`` with workers iterates copies of the dataset, whose state the
    main process does not see.
    """
    try:
        import torch.distributed as dist
        from torch.utils.data import IterableDataset, get_worker_info
    except ImportError as e:
        raise ImportError("torch_dataset needs torch; MixtureReader works without it") from e
    if rank is None or world_size is None:
        ready = dist.is_available() and dist.is_initialized()
        rank, world_size = (dist.get_rank(), dist.get_world_size()) if ready else (0, 1)

    class MixtureDataset(IterableDataset):
        def __init__(self) -> None:
            self.epoch = kwargs.pop("epoch", 0)
            self.reader: MixtureReader | None = None
            self.resume: dict | None = None

        def set_epoch(self, epoch: int) -> None:
            self.epoch, self.resume = epoch, None

        def _reader(self) -> MixtureReader:
            worker, num_workers = worker_slot(get_worker_info())
            return MixtureReader(
                mixdir, rank, world_size, worker, num_workers, epoch=self.epoch, **kwargs
            )

        def __iter__(self) -> Iterator[Any]:
            self.reader = self._reader()
            if self.resume is not None:
                self.reader.load_state_dict(self.resume)
                self.resume = None
            yield from self.reader

        def state_dict(self) -> dict:
            if self.resume is not None:
                return dict(self.resume)
            return (self.reader or self._reader()).state_dict()

        def load_state_dict(self, state: dict) -> None:
            self._reader().load_state_dict(state)  # fails now if the state is another slot's
            self.resume, self.epoch = dict(state), int(state["epoch"])

    return MixtureDataset()
