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
            return Hits(np.empty(0, np.int64), np.empty(0, np.int32))
        dist = self.distances(code)
        rows = np.flatnonzero(dist <= max_distance)
        order = np.lexsort((rows, dist[rows]))
        rows = rows[order]
        if limit is not None:
            rows = rows[:limit]
        return Hits(rows.astype(np.int64), dist[rows])


def build_index(codes: np.ndarray) -> HammingIndex:
    """The index to use for ``codes``; chosen by corpus size once faster indexes exist."""
    return LinearIndex(codes)


class KeypointVotes:
    """Retrieval by local features: which items own descriptors close to the query's keypoints.

    An exact nearest-neighbour scan (OpenCV's SIMD Hamming matcher) over the strongest keypoints of
    every item; each query keypoint votes for the item owning its nearest descriptor when that is
    within ``max_distance``. Items with several votes are worth verifying geometrically.
    """

    def __init__(self, owners: np.ndarray, descriptors: np.ndarray) -> None:
        self.owners = owners
        self.descriptors = np.ascontiguousarray(descriptors, dtype=np.uint8)

    def __len__(self) -> int:
        return int(self.descriptors.shape[0])

    def votes(self, query: np.ndarray, max_distance: int) -> dict[int, int]:
        if len(self) == 0 or query is None or len(query) == 0:
            return {}
        import cv2

        matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
        found = matcher.match(np.ascontiguousarray(query, dtype=np.uint8), self.descriptors)
        rows = np.array([m.trainIdx for m in found if m.distance <= max_distance], dtype=np.int64)
        if len(rows) == 0:
            return {}
        owners, counts = np.unique(self.owners[rows], return_counts=True)
        return dict(zip(owners.tolist(), counts.tolist(), strict=True))
