"""Near-duplicate detection from the ingest intermediates: LSH buckets, then clusters.

``LshBuckets`` runs one task per (band, hash partition): it reads that band's
hashes from every ingest rank, groups equal hashes with a sort (no Python loop
per document), estimates each candidate pair's Jaccard from the signatures and
drops the pairs clearly below the threshold. The extra band
``params.exact_band`` groups the 128-bit content hash: exact duplicates.

``NearDuplicateClusters`` takes the union of all bands' pairs, accepts those
whose estimate is clearly above the threshold, settles the borderline ones
(within three standard errors of it) with the exact Jaccard of their shingle
sets, joins the accepted pairs with scipy's sparse connected components and
keeps the lowest-numbered document of each cluster (documents are numbered in
input-file order, so the choice is deterministic and independent of how many
workers ran).
"""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.pipeline.base import PipelineStep
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipeline import schema
from pipeline.layout import DedupParams, Layout
from pipeline.minhash import shingle_jaccards
from procmix_core.atomic import AtomicParquetWriter, atomic_path

CLUSTER_ROW_GROUP = 65536
VERIFY_CHUNK_PAIRS = 2048
EDGE_DTYPE = np.dtype(
    [("a", np.int64), ("b", np.int64), ("estimate", np.float32), ("sparse", np.bool_)]
)


def is_sparse(filled_bins: np.ndarray, params: DedupParams) -> np.ndarray:
    """Documents that left a fifth or more of their MinHash bins to densification.

    Their estimates are noisier than ``borderline_margin`` allows for, so a
    pair involving one is accepted only on its exact Jaccard (cheap: such
    documents are short).
    """
    return filled_bins.astype(np.int64) * 5 < params.num_perm * 4


def borderline_margin(params: DedupParams) -> float:
    """Three standard errors of a MinHash Jaccard estimate at the threshold."""
    t = params.threshold
    return 3.0 * float(np.sqrt(t * (1.0 - t) / params.num_perm))


def candidate_pairs(hashes: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Pairs (smallest node of a hash group, other node of the group), as an ``(m, 2)`` array.

    Most hashes are unique, so a counting pass over a table four times the
    input's size first keeps only hashes whose slot is shared; only those
    (about a fifth) are sorted.
    """
    if len(hashes) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    slots = 1 << int(4 * len(hashes) - 1).bit_length()
    slot = (hashes & np.uint64(slots - 1)).astype(np.int64)
    shared = np.bincount(slot, minlength=slots)[slot] > 1
    hashes, nodes = hashes[shared], nodes[shared]
    order = np.argsort(hashes)
    sorted_hashes, sorted_nodes = hashes[order], nodes[order]
    starts = np.flatnonzero(np.diff(sorted_hashes, prepend=~sorted_hashes[:1]) != 0)
    sizes = np.diff(starts, append=len(sorted_hashes))
    smallest = np.repeat(np.minimum.reduceat(sorted_nodes, starts), sizes)
    others = (sizes[np.repeat(np.arange(len(starts)), sizes)] > 1) & (sorted_nodes != smallest)
    return np.stack([smallest[others], sorted_nodes[others]], axis=1)


class _RankedArrays:
    """Random access by global document number to per-rank raw arrays."""

    def __init__(self, offsets: np.ndarray, paths: list[Path], dtype, width: int):
        self.offsets = offsets
        self.paths = paths
        self.dtype = dtype
        self.width = width

    def take(self, nodes: np.ndarray) -> np.ndarray:
        out = np.empty((len(nodes), self.width), dtype=self.dtype)
        if not len(nodes):
            return out
        rank_of = np.searchsorted(self.offsets, nodes, side="right") - 1
        order = np.argsort(rank_of, kind="stable")
        ranks, firsts = np.unique(rank_of[order], return_index=True)
        for rank, mine in zip(ranks, np.split(order, firsts[1:]), strict=True):
            # A plain mmap: np.memmap costs more to open than a band's rows cost to read.
            with (
                open(self.paths[rank], "rb") as f,
                mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
            ):
                values = np.frombuffer(mapped, dtype=self.dtype).reshape(-1, self.width)
                out[mine] = values[nodes[mine] - self.offsets[rank]]
                del values
        return out


class _DedupStage(PipelineStep):
    """A step over all ingest ranks' intermediates under ``out``."""

    type = "🫂 - DEDUP"

    def __init__(self, out: str, ingest_ranks: int, params: DedupParams):
        super().__init__()
        self.out = out
        self.ingest_ranks = ingest_ranks
        self.params = params


class LshBuckets(_DedupStage):
    """Candidate pairs of one band and hash partition that may reach the threshold."""

    name = "lsh buckets"

    def needs(self, rank: int, world_size: int) -> list[str]:
        names, p = Layout.names(), self.params
        band = rank // p.bucket_partitions
        files = [names.doc_offsets_file]
        for r in range(self.ingest_ranks):
            files.append(names.band_hashes(r, band))
            if band == p.exact_band:
                files.append(names.content_hash_high(r))
            else:
                files += [names.signatures(r), names.filled_bins(r)]
        return [str(f) for f in files]

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if data:
            yield from data
        layout = Layout(Path(self.out))
        p = self.params
        band, partition = divmod(rank, p.bucket_partitions)
        with self.track_time(unit="task"):
            offsets = layout.doc_offsets()
            hashes, nodes = [], []
            for r in range(self.ingest_ranks):
                h = np.fromfile(layout.band_hashes(r, band), dtype=np.uint64)
                local = np.arange(len(h), dtype=np.int64)
                if p.bucket_partitions > 1:
                    local = np.flatnonzero(h % np.uint64(p.bucket_partitions) == partition)
                    h = h[local]
                hashes.append(h)
                nodes.append(local + offsets[r])
            pairs = candidate_pairs(np.concatenate(hashes), np.concatenate(nodes))
            self.stat_update("candidate_pairs", value=len(pairs))
            edges = self._estimated(layout, offsets, pairs, band == p.exact_band)
            self.stat_update("plausible_pairs", value=len(edges))
            with atomic_path(layout.edges(band, partition)) as tmp, open(tmp, "wb") as f:
                np.save(f, edges)

    def _estimated(
        self, layout: Layout, offsets: np.ndarray, pairs: np.ndarray, exact: bool
    ) -> np.ndarray:
        """Candidate pairs that may reach the threshold, with their estimated Jaccard."""
        ranks = range(self.ingest_ranks)
        if not len(pairs):
            return np.zeros(0, dtype=EDGE_DTYPE)
        if exact:
            # Low 64 bits matched in the bucket; the high 64 bits confirm the copy.
            high = _RankedArrays(
                offsets, [layout.content_hash_high(r) for r in ranks], np.uint64, 1
            )
            ends = high.take(pairs.ravel()).reshape(len(pairs), 2)
            keep = ends[:, 0] == ends[:, 1]
            pairs, estimate = pairs[keep], np.ones(int(keep.sum()), dtype=np.float32)
            sparse = np.zeros(len(pairs), dtype=bool)
        else:
            p = self.params
            signatures = _RankedArrays(
                offsets, [layout.signatures(r) for r in ranks], np.uint32, p.num_perm
            )
            ends = signatures.take(pairs.ravel()).reshape(len(pairs), 2, p.num_perm)
            estimate = (ends[:, 0] == ends[:, 1]).mean(axis=1, dtype=np.float32)
            keep = estimate >= p.threshold - borderline_margin(p)
            pairs, estimate = pairs[keep], estimate[keep]
            filled = _RankedArrays(offsets, [layout.filled_bins(r) for r in ranks], np.uint16, 1)
            fewest = filled.take(pairs.ravel()).reshape(len(pairs), 2).min(axis=1)
            sparse = is_sparse(fewest, p)
        edges = np.zeros(len(pairs), dtype=EDGE_DTYPE)
        edges["a"], edges["b"] = pairs[:, 0], pairs[:, 1]
        edges["estimate"], edges["sparse"] = estimate, sparse
        return edges


class NearDuplicateClusters(_DedupStage):
    """Connected components of all accepted pairs; one representative per cluster."""

    name = "near-duplicate clusters"

    def needs(self, rank: int, world_size: int) -> list[str]:
        names, p = Layout.names(), self.params
        edges = [
            names.edges(band, partition)
            for band in range(p.bands + 1)
            for partition in range(p.bucket_partitions)
        ]
        per_rank = [
            path(r)
            for r in range(self.ingest_ranks)
            for path in (names.raw_text_ends, names.raw_texts, names.ingest_docs)
        ]
        return [str(path) for path in [names.doc_offsets_file, *edges, *per_rank]]

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if data:
            yield from data
        layout = Layout(Path(self.out))
        p = self.params
        with self.track_time(unit="task"):
            near, exact = [], []
            for band in range(p.bands + 1):
                for partition in range(p.bucket_partitions):
                    edges = np.load(layout.edges(band, partition))
                    (exact if band == p.exact_band else near).append(edges)
            exact_edges = _as_pairs(np.concatenate(exact))
            offsets = layout.doc_offsets()
            near_edges = self._accepted(layout, offsets, _distinct_edges(np.concatenate(near)))
            all_edges = np.concatenate([near_edges, exact_edges])
            nodes, compact = np.unique(all_edges, return_inverse=True)
            compact = compact.reshape(-1, 2)
            n = len(nodes)
            labels = _components(compact, n)
            representative = np.full(n, np.iinfo(np.int64).max)
            np.minimum.at(representative, labels, np.arange(n))
            rep_of_node = representative[labels]
            sizes = np.bincount(labels)[labels]
            exact_labels = _components(compact[len(all_edges) - len(exact_edges) :], n)
            exact_copy = exact_labels == exact_labels[rep_of_node]
            rep_nodes = nodes[rep_of_node]
            rep_keys = self._doc_keys(layout, offsets, rep_nodes)
            self.stat_update("clustered_documents", value=n)
            self.stat_update("clusters", value=int(len(np.unique(labels))))
        table = pa.table(
            {
                "node": nodes,
                "representative": rep_nodes,
                "representative_key": rep_keys,
                "cluster_size": sizes.astype(np.int64),
                "exact_copy_of_representative": exact_copy,
            },
            schema=schema.CLUSTERS_SCHEMA,
        )
        with AtomicParquetWriter(layout.clusters, schema.CLUSTERS_SCHEMA) as writer:
            for start in range(0, max(table.num_rows, 1), CLUSTER_ROW_GROUP):
                writer.write(table.slice(start, CLUSTER_ROW_GROUP))

    def _accepted(self, layout: Layout, offsets: np.ndarray, edges: np.ndarray) -> np.ndarray:
        """Pairs at or above the threshold: by estimate when clear, else by exact Jaccard.

        Borderline pairs are checked a chunk at a time, so memory holds the texts
        of one chunk, never those of every borderline document.
        """
        p = self.params
        clear = (edges["estimate"] >= p.threshold + borderline_margin(p)) & ~edges["sparse"]
        borderline = np.sort(edges[~clear], order=["a", "b"])
        self.stat_update("borderline_pairs", value=len(borderline))
        reaches = np.zeros(len(borderline), dtype=bool)
        for start in range(0, len(borderline), VERIFY_CHUNK_PAIRS):
            chunk = _as_pairs(borderline[start : start + VERIFY_CHUNK_PAIRS])
            nodes = np.unique(chunk)
            texts = _texts(layout, offsets, nodes)
            # Rows of `chunk` as positions in `nodes`, the order of `texts`.
            positions = np.searchsorted(nodes, chunk)
            jaccards = shingle_jaccards(texts, positions)
            reaches[start : start + len(chunk)] = jaccards >= p.threshold
        return _as_pairs(np.concatenate([edges[clear], borderline[reaches]]))

    def _doc_keys(self, layout: Layout, offsets: np.ndarray, nodes: np.ndarray) -> pa.Array:
        """doc_key of each global document number (reads only the doc_key column)."""
        keys = np.empty(len(nodes), dtype=object)
        rank_of = np.searchsorted(offsets, nodes, side="right") - 1
        for rank in np.unique(rank_of):
            column = pq.read_table(layout.ingest_docs(int(rank)), columns=["doc_key"])["doc_key"]
            mask = rank_of == rank
            keys[mask] = column.take(pa.array(nodes[mask] - offsets[rank])).to_numpy(
                zero_copy_only=False
            )
        return pa.array(keys, type=pa.string())


def _distinct_edges(edges: np.ndarray) -> np.ndarray:
    """Each pair once, sorted by (a, b): several bands find the same pair, with equal fields."""
    edges = edges[np.lexsort((edges["b"], edges["a"]))]
    first = np.ones(len(edges), dtype=bool)
    first[1:] = (edges["a"][1:] != edges["a"][:-1]) | (edges["b"][1:] != edges["b"][:-1])
    return edges[first]


def _as_pairs(edges: np.ndarray) -> np.ndarray:
    return np.stack([edges["a"], edges["b"]], axis=1) if len(edges) else np.zeros((0, 2), np.int64)


def _texts(layout: Layout, offsets: np.ndarray, nodes: np.ndarray) -> pa.LargeStringArray:
    """Texts of the given global document numbers (sorted), read from the raw text files."""
    ranks = range(len(offsets) - 1)
    text_ends = _RankedArrays(offsets, [layout.raw_text_ends(r) for r in ranks], np.int64, 1)
    ends = text_ends.take(nodes)[:, 0]
    # A rank's first document starts its file; any other starts where the one before ends.
    first = np.isin(nodes, offsets[:-1])
    starts = np.zeros(len(nodes), dtype=np.int64)
    starts[~first] = text_ends.take(nodes[~first] - 1)[:, 0]
    rank_of = np.searchsorted(offsets, nodes, side="right") - 1
    pieces = []
    for rank in np.unique(rank_of):
        mine = rank_of == rank
        with open(layout.raw_texts(int(rank)), "rb") as f:
            for start, end in zip(starts[mine].tolist(), ends[mine].tolist(), strict=True):
                f.seek(start)
                pieces.append(f.read(end - start))
    bounds = np.zeros(len(nodes) + 1, dtype=np.int64)
    np.cumsum(ends - starts, out=bounds[1:])
    return pa.LargeStringArray.from_buffers(
        len(nodes), pa.py_buffer(bounds), pa.py_buffer(b"".join(pieces))
    )


def _components(edges: np.ndarray, n: int) -> np.ndarray:
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    graph = coo_matrix(
        (np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1])), shape=(n, n)
    )
    return connected_components(graph, directed=False)[1]
