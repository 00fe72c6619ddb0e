"""Hamming search over packed hash arrays.

The index sees only rows of packed bits; it knows nothing of items, sources or databases, so a
faster index (multi-index hashing, FAISS) can replace ``LinearIndex`` behind the same two calls and
be tested against it answer for answer.
"""

from __future__ import annotations

import functools
import itertools
import math
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

    def query_many(
        self, codes: np.ndarray, max_distance: int, limit: int | None = None
    ) -> list[Hits]:
        """``query`` for each row of ``codes`` (one picture's variants), in one call."""
        ...


def _as_words(codes: np.ndarray) -> np.ndarray:
    """View packed uint8 codes as 64-bit words so the popcount runs on a quarter of the elements."""
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2:
        raise ValueError("codes must be a 2-D array: one packed hash per row")
    if codes.shape[1] % 8 == 0:
        return codes.view(np.uint64)
    return codes


def row_distances(xor: np.ndarray) -> np.ndarray:
    """Hamming weight of each row of XORed words, as int32.

    Adds the per-word popcounts column by column: numpy's ``sum(axis=1)`` over a handful of
    narrow columns is several times slower than these few vector additions.
    """
    counts = np.bitwise_count(xor)
    total = counts[:, 0].astype(np.int32)
    for column in range(1, counts.shape[1]):
        total += counts[:, column]
    return total


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
        return row_distances(self._words ^ query)

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

    def query_many(
        self, codes: np.ndarray, max_distance: int, limit: int | None = None
    ) -> list[Hits]:
        return [self.query(code, max_distance, limit) for code in np.asarray(codes, np.uint8)]


#: Corpus size from which ``build_index`` picks the multi-index. Below it the linear scan takes
#: well under a millisecond per query and needs no tables.
MULTI_INDEX_MIN_ROWS = 50_000

#: Rows per 64-bit word of code from which the multi-index cuts each word into 3 chunks (21-22
#: bits) instead of 4 (16 bits). Bigger chunks mean fewer rows per bucket, which is what keeps a
#: query sublinear as the corpus grows, at the price of 32 MB of fixed tables per word: from
#: a million rows per word that is at most 34 bytes per row (pHash: from 1 M rows; PDQ: 4 M).
WIDE_CHUNKS_ROWS_PER_WORD = 1_000_000


def _chunk_layout(words: int, per_word: int) -> list[tuple[int, int, int]]:
    """(word, shift, width) of every chunk, most significant bits first."""
    widths = [64 // per_word + (1 if i < 64 % per_word else 0) for i in range(per_word)]
    layout = []
    for word in range(words):
        shift = 64
        for width in widths:
            shift -= width
            layout.append((word, shift, width))
    return layout


@functools.cache
def _chunk_masks(width: int, radius: int) -> np.ndarray:
    """Every ``width``-bit XOR mask with at most ``radius`` bits set, fewest bits first."""
    if radius <= 2:  # the common case (PDQ at 31, pHash at 8): a few hundred masks
        masks = [0]
        for k in range(1, radius + 1):
            masks += [sum(1 << b for b in bits) for bits in itertools.combinations(range(width), k)]
        out = np.array(masks, dtype=np.int64)
    else:
        values = np.arange(1 << width, dtype=np.int64)
        weights = np.bitwise_count(values)
        out = values[weights <= radius]
        out = out[np.argsort(weights[out], kind="stable")]
    out.flags.writeable = False
    return out


class MultiIndex:
    """Exact Hamming search in sublinear time: multi-index hashing (Norouzi, Punjani & Fleet).

    Each code is cut into ``m`` chunks (every 64-bit word into ``per_word`` pieces of 16, or
    21-22, bits), and for each chunk the rows are kept sorted by that chunk's value (``order``)
    with the start of every value's run (``starts``, one table per chunk, laid end to end). Two
    codes at distance d <= r differ in at least one chunk by at most floor(r / m) bits
    (pigeonhole), so probing, in every chunk, the values within that radius of the query's chunk
    finds every true neighbour; each candidate is then checked with its full distance. Answers
    are exactly the linear scan's. When probing would cost about as much as scanning (a very
    loose ``max_distance``), the query falls back to the scan, so the answer never changes.

    Memory: the codes, one int32 per row and chunk (PDQ: 16 chunks, pHash: 4; 12 and 3 with
    wide chunks), and the fixed ``starts`` tables (256 KB per 16-bit chunk, 8-16 MB per wide one).
    """

    def __init__(
        self, codes: np.ndarray, order: np.ndarray, starts: np.ndarray, per_word: int = 4
    ) -> None:
        """Wrap prebuilt tables (``MultiIndex.build`` makes them; a cache can memory-map them)."""
        self._codes = np.ascontiguousarray(codes, dtype=np.uint8)
        self._linear = LinearIndex(self._codes)
        rows, nbytes = self._codes.shape
        if nbytes % 8 or per_word not in (3, 4):
            raise ValueError("a multi-index needs whole 64-bit words cut in 3 or 4 chunks")
        self._words = self._codes.view("<u8")
        self._layout = _chunk_layout(nbytes // 8, per_word)
        sizes = [(1 << width) + 1 for _w, _s, width in self._layout]
        if order.shape != (len(self._layout), rows) or starts.shape != (sum(sizes),):
            raise ValueError("multi-index tables do not fit the codes they were given")
        self.order = order
        self.starts = starts
        self.per_word = per_word
        self._table_at = np.cumsum([0, *sizes[:-1]])
        self._flat_order = order.reshape(-1)

    @classmethod
    def build(cls, codes: np.ndarray, per_word: int | None = None) -> MultiIndex:
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        if codes.ndim != 2 or codes.shape[1] % 8:
            raise ValueError("a multi-index needs codes of whole 64-bit words")
        if codes.shape[0] >= 2**31:
            raise ValueError("a multi-index holds at most 2**31 - 1 rows")
        if per_word is None:
            wide = codes.shape[0] >= WIDE_CHUNKS_ROWS_PER_WORD * (codes.shape[1] // 8)
            per_word = 3 if wide else 4
        layout = _chunk_layout(codes.shape[1] // 8, per_word)
        words = codes.view(">u8")
        order = np.empty((len(layout), codes.shape[0]), dtype=np.int32)
        tables = []
        for j, (word, shift, width) in enumerate(layout):
            column = _chunk_values(words[:, word], shift, width)
            narrow = column.astype(np.uint16 if width <= 16 else np.uint32)
            order[j] = np.argsort(narrow, kind="stable")  # a radix sort for 16-bit values
            table = np.zeros((1 << width) + 1, dtype=np.int32)
            np.cumsum(np.bincount(column, minlength=1 << width), out=table[1:])
            tables.append(table)
        return cls(codes, order, np.concatenate(tables), per_word)

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
        radius = max_distance // len(self._layout)
        # Expected share of rows probed (uniform codes); past a quarter, scanning is cheaper.
        probed = sum(
            sum(math.comb(width, k) for k in range(radius + 1)) / (1 << width)
            for _w, _s, width in self._layout
        )
        if probed > 0.25:
            return [self._linear.query(code, max_distance, limit) for code in codes]
        masks = [_chunk_masks(width, radius) for _w, _s, width in self._layout]
        rows, owner = self._candidates(codes, masks)
        if len(rows) == 0:
            return [_no_hits() for _ in range(len(codes))]
        # np.take on 64-bit words: one copy per row instead of a per-byte fancy index.
        xor = np.take(self._words, rows, axis=0) ^ np.take(codes.view("<u8"), owner, axis=0)
        dist = row_distances(xor)
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

    def _candidates(
        self, codes: np.ndarray, masks: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows sharing a probed chunk value with each query, and which query found them."""
        words = codes.view(">u8")
        slots, owners, bases = [], [], []
        for j, (word, shift, width) in enumerate(self._layout):
            values = _chunk_values(words[:, word], shift, width)  # one per query
            probes = (values[:, None] ^ masks[j][None, :]).ravel()
            slots.append(probes + self._table_at[j])
            owners.append(np.repeat(np.arange(len(codes)), len(masks[j])))
            bases.append(np.full(len(probes), j * len(self), dtype=np.int64))
        slot = np.concatenate(slots)
        lo = self.starts[slot].astype(np.int64)
        lengths = self.starts[slot + 1].astype(np.int64) - lo
        total = int(lengths.sum())
        if total == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        # Expand the runs into positions of the flattened order array without a Python loop.
        ends = np.cumsum(lengths)
        offsets = np.arange(total, dtype=np.int64) - np.repeat(ends - lengths, lengths)
        positions = np.repeat(lo + np.concatenate(bases), lengths) + offsets
        rows = self._flat_order[positions].astype(np.int64)
        return rows, np.repeat(np.concatenate(owners), lengths)


def _chunk_values(words: np.ndarray, shift: int, width: int) -> np.ndarray:
    """Chunk ``(shift, width)`` of each big-endian 64-bit word, as int64."""
    return ((words >> np.uint64(shift)) & np.uint64((1 << width) - 1)).astype(np.int64)


def _no_hits() -> Hits:
    return Hits(np.empty(0, np.int64), np.empty(0, np.int32))


def wants_multi_index(rows: int, nbytes: int) -> bool:
    """Whether ``build_index`` picks the multi-index for ``rows`` codes of ``nbytes`` bytes."""
    return rows >= MULTI_INDEX_MIN_ROWS and nbytes % 8 == 0 and rows < 2**31


def build_index(codes: np.ndarray) -> HammingIndex:
    """The index to use for ``codes``: the linear scan for small corpora, else the multi-index.

    Both return exactly the same hits; only the time they take differs.
    """
    codes = np.asarray(codes, dtype=np.uint8)
    if codes.ndim == 2 and wants_multi_index(codes.shape[0], codes.shape[1]):
        return MultiIndex.build(codes)
    return LinearIndex(codes)
