"""Hamming search over packed hash arrays.

The index sees only rows of packed bits; it knows nothing of items, sources or databases, so a
faster index (multi-index hashing, FAISS) can replace ``LinearIndex`` behind the same two calls and
be tested against it answer for answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class Hits:
    """Rows within ``max_distance`` of a query, nearest first (ties by row)."""

    rows: np.ndarray  # int64 row numbers into the array the index was built from
    distances: np.ndarray  # int32 Hamming distances, same length

    def __len__(self) -> int:
        return len(self.rows)


class HammingIndex(Protocol):
    def __len__(self) -> int: ...

    def query(self, code: np.ndarray, max_distance: int, limit: int | None = None) -> Hits:
        """Rows whose Hamming distance to ``code`` (packed uint8) is <= ``max_distance``."""
        ...


def _as_words(codes: np.ndarray) -> np.ndarray:
    """View packed uint8 codes as 64-bit words so the popcount runs on a quarter of the elements."""
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2:
        raise ValueError("codes must be a 2-D array: one packed hash per row")
    if codes.shape[1] % 8 == 0:
        return codes.view(np.uint64)
    return codes


class LinearIndex:
    """Exact scan: XOR and popcount every row. The reference every other index must agree with."""

    def __init__(self, codes: np.ndarray) -> None:
        self._words = _as_words(codes)

    def __len__(self) -> int:
        return int(self._words.shape[0])

    def distances(self, code: np.ndarray) -> np.ndarray:
        query = _as_words(np.asarray(code, dtype=np.uint8).reshape(1, -1))
        if query.shape[1] != self._words.shape[1]:
            raise ValueError("query hash has a different length from the indexed hashes")
        return np.bitwise_count(self._words ^ query).sum(axis=1, dtype=np.int32)

    def query(self, code: np.ndarray, max_distance: int, limit: int | None = None) -> Hits:
        if len(self) == 0:
            return _no_hits()
        dist = self.distances(code)
        rows = np.flatnonzero(dist <= max_distance)
        order = np.lexsort((rows, dist[rows]))
        rows = rows[order]
        if limit is not None:
            rows = rows[:limit]
        return Hits(rows.astype(np.int64), dist[rows])


#: Bits per chunk of a multi-index: 16-bit chunks make each chunk's bucket table 65,536 entries
#: (256 KB) whatever the corpus size, and a chunk value is one little-endian uint16 of the code.
CHUNK_BITS = 16
_BUCKETS = 1 << CHUNK_BITS

#: Corpus size from which ``build_index`` picks the multi-index. Below it the linear scan takes
#: well under a millisecond per query and needs no tables.
MULTI_INDEX_MIN_ROWS = 50_000


def _chunk_masks(radius: int) -> np.ndarray:
    """Every 16-bit XOR mask with at most ``radius`` bits set, fewest bits first."""
    values = np.arange(_BUCKETS, dtype=np.uint32)
    weights = np.bitwise_count(values)
    masks = values[weights <= radius]
    return masks[np.argsort(weights[masks], kind="stable")].astype(np.uint16)


class MultiIndex:
    """Exact Hamming search in sublinear time: multi-index hashing (Norouzi, Punjani & Fleet).

    Each code is cut into ``m`` chunks of 16 bits, and for each chunk the rows are kept sorted by
    that chunk's value (``order``) with the start of every value's run (``starts``). Two codes at
    distance d <= r differ in at least one chunk by at most floor(r / m) bits (pigeonhole), so
    probing, in every chunk, the values within that radius of the query's chunk finds every true
    neighbour; each candidate is then checked with its full distance. Answers are exactly the
    linear scan's. When a radius would make probing cost more than scanning (a very loose
    ``max_distance``), the query falls back to the scan, so the answer never changes.

    Memory per row: the code plus one int32 per chunk (PDQ: 32 + 64 bytes; pHash: 8 + 16).
    """

    def __init__(self, codes: np.ndarray, order: np.ndarray, starts: np.ndarray) -> None:
        """Wrap prebuilt tables (``MultiIndex.build`` makes them; a cache can memory-map them)."""
        self._codes = np.ascontiguousarray(codes, dtype=np.uint8)
        self._linear = LinearIndex(self._codes)
        rows, nbytes = self._codes.shape
        chunks = nbytes // 2
        if nbytes % 2 or order.shape != (chunks, rows) or starts.shape != (chunks, _BUCKETS + 1):
            raise ValueError("multi-index tables do not fit the codes they were given")
        self.order = order
        self.starts = starts
        self._chunks = chunks
        self._flat_order = order.reshape(-1)
        self._flat_starts = starts.reshape(-1)

    @classmethod
    def build(cls, codes: np.ndarray) -> MultiIndex:
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        if codes.ndim != 2 or codes.shape[1] % 2:
            raise ValueError("a multi-index needs codes of a whole number of 16-bit chunks")
        if codes.shape[0] >= 2**31:
            raise ValueError("a multi-index holds at most 2**31 - 1 rows")
        values = codes.view("<u2")
        chunks = values.shape[1]
        order = np.empty((chunks, codes.shape[0]), dtype=np.int32)
        starts = np.zeros((chunks, _BUCKETS + 1), dtype=np.int32)
        for j in range(chunks):
            column = values[:, j]
            order[j] = np.argsort(column, kind="stable")  # radix sort on uint16: linear time
            np.cumsum(np.bincount(column, minlength=_BUCKETS), out=starts[j, 1:])
        return cls(codes, order, starts)

    def __len__(self) -> int:
        return int(self._codes.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held for search: codes plus tables."""
        return int(self._codes.nbytes + self.order.nbytes + self.starts.nbytes)

    def query(self, code: np.ndarray, max_distance: int, limit: int | None = None) -> Hits:
        single = np.asarray(code, dtype=np.uint8).reshape(1, -1)
        return self.query_many(single, max_distance, limit)[0]

    def query_many(
        self, codes: np.ndarray, max_distance: int, limit: int | None = None
    ) -> list[Hits]:
        """``query`` for every row of ``codes`` at once (a query's mirror/rotation variants)."""
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        if codes.ndim != 2 or codes.shape[1] != self._codes.shape[1]:
            raise ValueError("query hash has a different length from the indexed hashes")
        if len(self) == 0 or max_distance < 0:
            return [_no_hits() for _ in range(len(codes))]
        radius = max_distance // self._chunks
        masks = _chunk_masks(radius)
        if len(masks) * self._chunks * 4 > _BUCKETS:  # probing ~ a quarter of a scan or more
            return [self._linear.query(code, max_distance, limit) for code in codes]
        # Every probe: (query, chunk, neighbouring chunk value) -> a run of rows in that chunk.
        probes = codes.view("<u2")[:, :, None] ^ masks[None, None, :]
        slot = probes.astype(np.int64) + (np.arange(self._chunks) * (_BUCKETS + 1))[None, :, None]
        slot = slot.ravel()
        lo = self._flat_starts[slot].astype(np.int64)
        lengths = self._flat_starts[slot + 1].astype(np.int64) - lo
        total = int(lengths.sum())
        if total == 0:
            return [_no_hits() for _ in range(len(codes))]
        # Expand the runs into positions of the flattened order array without a Python loop.
        chunk_base = np.repeat(np.arange(self._chunks, dtype=np.int64) * len(self), len(masks))
        run_start = lo + np.tile(chunk_base, len(codes))
        ends = np.cumsum(lengths)
        offsets = np.arange(total, dtype=np.int64) - np.repeat(ends - lengths, lengths)
        rows = self._flat_order[np.repeat(run_start, lengths) + offsets].astype(np.int64)
        owner = np.repeat(np.arange(len(codes)), self._chunks * len(masks))
        owner = np.repeat(owner, lengths)
        dist = np.bitwise_count(self._codes[rows] ^ codes[owner]).sum(axis=1, dtype=np.int32)
        keep = dist <= max_distance
        rows, dist, owner = rows[keep], dist[keep], owner[keep]
        # A row close in several chunks was found several times: sort by (query, distance, row),
        # the linear scan's order, and drop the repeats.
        order = np.lexsort((rows, dist, owner))
        rows, dist, owner = rows[order], dist[order], owner[order]
        fresh = np.ones(len(rows), dtype=bool)
        fresh[1:] = (rows[1:] != rows[:-1]) | (owner[1:] != owner[:-1])
        rows, dist, owner = rows[fresh], dist[fresh], owner[fresh]
        bounds = np.searchsorted(owner, np.arange(len(codes) + 1))
        out = []
        for q in range(len(codes)):
            a, b = int(bounds[q]), int(bounds[q + 1])
            if limit is not None:
                b = min(b, a + limit)
            out.append(Hits(rows[a:b], dist[a:b]))
        return out


def _no_hits() -> Hits:
    return Hits(np.empty(0, np.int64), np.empty(0, np.int32))


def wants_multi_index(rows: int, nbytes: int) -> bool:
    """Whether ``build_index`` picks the multi-index for ``rows`` codes of ``nbytes`` bytes."""
    return rows >= MULTI_INDEX_MIN_ROWS and nbytes % 2 == 0 and rows < 2**31


def build_index(codes: np.ndarray) -> HammingIndex:
    """The index to use for ``codes``: the linear scan for small corpora, else the multi-index.

    Both return exactly the same hits; only the time they take differs.
    """
    codes = np.asarray(codes, dtype=np.uint8)
    if codes.ndim == 2 and wants_multi_index(codes.shape[0], codes.shape[1]):
        return MultiIndex.build(codes)
    return LinearIndex(codes)
