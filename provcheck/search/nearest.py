"""The two nearest binary descriptors of each query descriptor, exactly, by Hamming distance.

Verification compares every keypoint of a query (up to ~1,300 with the zoomed and inner sets) with
every keypoint of each of up to 24 candidates, so it is most of a crop query's time once the
reference corpus is large. OpenCV's brute-force matcher took 7.7 ms for 1,000 x 512 descriptors
on the 2-core Xeon this was measured on (AVX-512, yet its Hamming loop runs ~15 ns a pair), numpy's
``bitwise_count`` 3.2-3.9 ms, and FAISS's ``knn_hamming`` 0.9 ms, so FAISS is used when the
``fast`` extra installed it. All three are exact, and the ratio test rejects a query row whose two
nearest are tied, so which of two tied rows is called "nearest" never changes a match: the
verdicts are the same with or without FAISS, only the time differs.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType

import numpy as np

#: Distance reported for a second neighbour that does not exist (a one-row reference).
MISSING = 1 << 16
#: Query rows compared at once by the numpy path: 128 x 512 words of scratch stay in cache.
_BLOCK = 128


@cache
def _faiss() -> ModuleType | None:
    """FAISS, single-threaded, or None without the extra. One thread: a verification is ~1 ms of
    work, which OpenMP's thread start-up would only slow, and batch scans parallelise by process."""
    try:
        import faiss
    except ImportError:
        return None
    faiss.omp_set_num_threads(1)
    return faiss


def backend() -> str:
    """Which implementation answers, "faiss" or "numpy": benchmarks print it beside their times."""
    return "faiss" if _faiss() is not None else "numpy"


def two_nearest(
    query: np.ndarray, reference: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(nearest reference row, its distance, the second-nearest distance) per query row.

    ``query`` and ``reference`` are uint8 arrays of 32-byte descriptors. A reference with one row
    has no second neighbour: its distance is ``MISSING``. Of tied rows, either may be named."""
    query = np.ascontiguousarray(query, dtype=np.uint8).reshape(-1, 32)
    reference = np.ascontiguousarray(reference, dtype=np.uint8).reshape(-1, 32)
    if len(query) == 0 or len(reference) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    faiss = _faiss()
    if faiss is not None:
        distances, rows = faiss.knn_hamming(query, reference, 2)
        distances = distances.astype(np.int64)
        second = np.where(rows[:, 1] >= 0, distances[:, 1], MISSING)
        return rows[:, 0].astype(np.int64), distances[:, 0], second
    return _two_nearest_numpy(query, reference)


def _two_nearest_numpy(
    query: np.ndarray, reference: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    words = query.view("<u8")
    columns = np.ascontiguousarray(reference.view("<u8").T)  # (4, rows): one word per pass
    n, m = len(query), len(reference)
    nearest = np.empty(n, np.int64)
    first = np.empty(n, np.int64)
    second = np.full(n, MISSING, np.int64)
    scratch = np.empty((_BLOCK, m), np.uint64)
    counts = np.empty((_BLOCK, m), np.uint8)
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        size = stop - start
        total = np.zeros((size, m), np.uint16)
        for k in range(4):
            np.bitwise_xor(words[start:stop, k, None], columns[k], out=scratch[:size])
            np.bitwise_count(scratch[:size], out=counts[:size])
            total += counts[:size]
        at = total.argmin(axis=1)
        lines = np.arange(size)
        nearest[start:stop] = at
        first[start:stop] = total[lines, at]
        if m > 1:
            total[lines, at] = np.iinfo(np.uint16).max
            second[start:stop] = total.min(axis=1)
    return nearest, first, second
