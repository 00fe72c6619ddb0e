"""Keypoint retrieval: which reference items own descriptors close to a query's keypoints.

Global hashes cannot find a crop, so a query's ORB keypoints look for references holding nearby
descriptors, and the references with the most (distinctive) votes are verified geometrically.
Comparing every query keypoint with every stored descriptor is far too slow past a few thousand
references, so the index is an inverted file on the 16 chunks of 16 bits of each 256-bit
descriptor: a query keypoint probes the bucket of its own value in every chunk, and only the
stored rows found there are compared exactly. Two descriptors of one scene point usually differ
in 30-48 bits, so most share at least one chunk exactly; unrelated ones rarely do.

Real ORB chunk values are skewed, and a video corpus repeats its HUD and static scenery in
thousands of frames, so some buckets hold a large share of all rows (at 100k references, a real
query's bucket holds 9 times the average). Those values are stop words, as in text retrieval: a
bucket holding more than ``MIN_STOP_WORD`` rows and more rows than ``STOP_WORD_SHARE`` of the
items (a value common to that share of all references) is not expanded. That bounds the rows
compared per query, and costs only the true matches whose sole shared chunk is such a common
value: a keypoint still gets the other fifteen chunks' chances. At small scale no bucket is that
full, so the index returns every chunk-sharing row, as before.

Votes are ranked like words in a document search: a query keypoint that lands near descriptors of
a thousand references (a HUD element, a sky) says little about any one of them, so each vote
weighs log(items / items that keypoint voted for) (inverse document frequency).

The tables are plain arrays (``order``, ``starts``, laid out like ``index.MultiIndex``'s), so
``arraycache`` can keep them as memory-mapped ``.npy`` sidecars instead of rebuilding them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from provcheck.search.hash_index import row_distances

#: Descriptor chunks the index is keyed on: 16 chunks of 16 bits cover all 256 bits.
KEYPOINT_CHUNKS = 16
_VALUES = 1 << 16
_TABLE = _VALUES + 1  # one start per value plus the end
#: A bucket holding more rows than this share of the indexed items is a stop word, not
#: expanded... It is 4 times the average bucket of the layout it was measured on (64 retrieval
#: keypoints per item), and tied to items rather than to rows, so that keeping more keypoints per
#: item (128 now) does not also let every probe expand a larger bucket: at 100k references a
#: share of rows (781-row stop words) took 119 ms for the votes of a query and its mirror against
#: 52-66 ms this way (512 rows), with the same recall (benchmarks/crop_scale.py).
STOP_WORD_SHARE = 4 * 64 / 65536
#: ... nor one holding more than this many rows; below it every bucket is expanded, so small
#: corpora keep exact chunk retrieval. Measured on benchmarks/crop_scale.py at 100k references
#: (6.4 M descriptors, average bucket 98 rows, expected bucket hit by a real query 862): no stop
#: words cost 470 ms of votes per query, 1,024 rows 100 ms and 512 rows 40-65 ms, with the true
#: frame among the 12 best-voted in 0.525, 0.600 and 0.525 of crop queries.
MIN_STOP_WORD = 512
#: Largest number of items with keypoints indexed for retrieval. The sidecar takes ~6.6 KB per
#: item (64 descriptors: 2 KB of descriptors, 4 KB of chunk tables, 0.5 KB of owners), memory-
#: mapped; past this, only hash candidates are verified and the scan summary says so.
MAX_RETRIEVAL_ITEMS = 1_000_000


@dataclass(frozen=True, slots=True)
class Votes:
    """What one query's keypoints say about one item."""

    count: int  # distinct query keypoints with a close descriptor of the item
    score: float  # the same votes, each weighted by how rare it is (inverse document frequency)


@dataclass(frozen=True, slots=True)
class VoteArrays:
    """``Votes`` of many items at once, as parallel arrays sorted by item."""

    items: np.ndarray  # int64, ascending
    counts: np.ndarray  # int64
    scores: np.ndarray  # float64

    @classmethod
    def empty(cls) -> VoteArrays:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64))

    def as_votes(self) -> dict[int, Votes]:
        """One ``Votes`` per item: for callers that look a few items up, not for whole tallies."""
        return {
            int(item): Votes(int(n), float(s))
            for item, n, s in zip(
                self.items.tolist(), self.counts.tolist(), self.scores.tolist(), strict=True
            )
        }


class KeypointIndex:
    """Inverted file over the 16-bit chunks of reference descriptors (see the module docstring).

    ``owners[i]`` is the item owning descriptor row ``i``; ``order[c]`` lists the rows sorted by
    their chunk ``c`` value; ``starts[c * 65537 + v]`` is where value ``v``'s run begins in it.
    """

    def __init__(
        self,
        owners: np.ndarray,
        descriptors: np.ndarray,
        order: np.ndarray,
        starts: np.ndarray,
        items: int | None = None,
    ) -> None:
        """Wrap prebuilt tables (``build`` makes them; ``arraycache`` memory-maps them).

        ``items`` is the number of distinct owners, when the caller knows it (saves a pass)."""
        rows = len(owners)
        if descriptors.shape != (rows, 32) or descriptors.dtype != np.uint8:
            raise ValueError("keypoint descriptors must be uint8 rows of 32 bytes")
        if order.shape != (KEYPOINT_CHUNKS, rows) or starts.shape != (KEYPOINT_CHUNKS * _TABLE,):
            raise ValueError("keypoint index tables do not fit the descriptors they were given")
        self.owners = owners
        self.descriptors = descriptors
        self.order = order
        self.starts = starts
        # The searches read plain ndarray views of the (often memory-mapped) tables, sharing their
        # memory: ``np.memmap``'s subclass hooks made each gather of a query's ~500k candidate
        # rows take 8.6 ms instead of 5.8 at 100k references.
        self._owners = np.asarray(owners)
        self._starts = np.asarray(starts)
        self._words = np.asarray(descriptors).view("<u8") if rows else np.zeros((0, 4), "<u8")
        self._flat_order = np.asarray(order).reshape(-1)
        if items is None:
            items = len(np.unique(owners)) if rows else 0
        self.items = int(items)
        self.stop_word = max(MIN_STOP_WORD, int(STOP_WORD_SHARE * self.items))

    @classmethod
    def build(cls, owners: np.ndarray, descriptors: np.ndarray) -> KeypointIndex:
        owners = np.ascontiguousarray(owners, dtype="<i8")
        descriptors = np.ascontiguousarray(descriptors, dtype=np.uint8).reshape(-1, 32)
        rows = len(descriptors)
        if len(owners) != rows:
            raise ValueError("one owner per descriptor row")
        if rows >= 2**31:
            raise ValueError("a keypoint index holds at most 2**31 - 1 descriptors")
        chunks = descriptors.view("<u2")
        order = np.empty((KEYPOINT_CHUNKS, rows), dtype="<i4")
        starts = np.zeros(KEYPOINT_CHUNKS * _TABLE, dtype="<i4")
        for c in range(KEYPOINT_CHUNKS):
            column = chunks[:, c]
            order[c] = np.argsort(column, kind="stable")  # a radix sort for 16-bit values
            counts = np.bincount(column, minlength=_VALUES)
            np.cumsum(counts, out=starts[c * _TABLE + 1 : (c + 1) * _TABLE])
        items = int(np.count_nonzero(np.diff(np.sort(owners)))) + 1 if rows else 0
        return cls(owners, descriptors, order, starts, items)

    def __len__(self) -> int:
        return len(self.owners)

    @property
    def nbytes(self) -> int:
        """Bytes of the tables: descriptors, owners, order and starts."""
        return int(
            self.owners.nbytes + self.descriptors.nbytes + self.order.nbytes + self.starts.nbytes
        )

    def candidates(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query row, stored row) pairs sharing a chunk value that is not a stop word.

        A pair sharing several chunks comes once per shared chunk: removing the repeats costs
        more than comparing them twice, and ``votes`` counts (keypoint, item) pairs anyway."""
        query = np.ascontiguousarray(query, dtype=np.uint8).reshape(-1, 32)
        if len(self) == 0 or len(query) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        slots = query_slots(query)
        lo, lengths = self.slot_runs(slots)
        lengths[lengths > self.stop_word] = 0
        return self.expand_runs(slots, lo, lengths)

    def slot_runs(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each probed slot's run of rows starts in its chunk's order, and its length."""
        lo = self._starts[slots].astype(np.int64)
        return lo, self._starts[slots + 1].astype(np.int64) - lo

    def expand_runs(
        self, slots: np.ndarray, lo: np.ndarray, lengths: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(query row, stored row) pairs of the given runs (a length of 0 skips a slot)."""
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        # Runs of the flattened order array, expanded without a Python loop.
        n_query = len(slots) // KEYPOINT_CHUNKS
        base = lo + np.tile(np.arange(KEYPOINT_CHUNKS, dtype=np.int64) * len(self), n_query)
        ends = np.cumsum(lengths)
        offsets = np.arange(total, dtype=np.int64) - np.repeat(ends - lengths, lengths)
        rows = self._flat_order[np.repeat(base, lengths) + offsets].astype(np.int64)
        q_rows = np.repeat(np.arange(len(slots), dtype=np.int64) // KEYPOINT_CHUNKS, lengths)
        return q_rows, rows

    def close_owners(
        self, query: np.ndarray, q_rows: np.ndarray, s_rows: np.ndarray, max_distance: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(owner, query row) of the candidate pairs within ``max_distance`` bits."""
        xor = np.take(self._words, s_rows, axis=0) ^ np.take(query.view("<u8"), q_rows, axis=0)
        close = row_distances(xor) <= max_distance
        return self._owners[s_rows[close]], q_rows[close]

    def votes(self, query: np.ndarray | None, max_distance: int) -> dict[int, Votes]:
        """Items owning a descriptor within ``max_distance`` of some query keypoint.

        Each query keypoint votes once per item (several close rows of one item count once)."""
        return self.vote_arrays(query, max_distance).as_votes()

    def vote_arrays(self, query: np.ndarray | None, max_distance: int) -> VoteArrays:
        """``votes`` as arrays, items ascending: at 100k references a query's keypoints reach
        tens of thousands of items, and a Python object per item cost more than the search."""
        if query is None or len(query) == 0 or len(self) == 0:
            return VoteArrays.empty()
        query = np.ascontiguousarray(query, dtype=np.uint8).reshape(-1, 32)
        q_rows, s_rows = self.candidates(query)
        if len(q_rows) == 0:
            return VoteArrays.empty()
        owners, voters = self.close_owners(query, q_rows, s_rows, max_distance)
        return tally_votes(owners, voters, len(query), self.items)


def query_slots(query: np.ndarray) -> np.ndarray:
    """The ``starts`` slot each query row probes in each chunk, query-major (slot k belongs to
    query row k // 16)."""
    return (query.view("<u2").astype(np.int64) + np.arange(KEYPOINT_CHUNKS) * _TABLE).ravel()


def tally_votes(owners: np.ndarray, voters: np.ndarray, n_query: int, items: int) -> VoteArrays:
    """Votes per item from the close (owner, query row) pairs of ``n_query`` query keypoints
    over an index of ``items`` items."""
    keys = np.unique(owners * n_query + voters)  # one vote per (item, keypoint)
    if len(keys) == 0:
        return VoteArrays.empty()
    voter = keys % n_query
    found, first, counts = np.unique(keys // n_query, return_index=True, return_counts=True)
    # Inverse document frequency: a keypoint voting for many items says little about each.
    reach = np.bincount(voter, minlength=n_query)[voter]
    weights = np.log((items + 1) / reach)
    return VoteArrays(found, counts, np.add.reduceat(weights, first))
