"""The linear index against a brute-force definition of Hamming distance."""

from __future__ import annotations

import numpy as np
import pytest

from provcheck.search.hash_index import LinearIndex, build_index


def _brute(codes: np.ndarray, query: np.ndarray) -> np.ndarray:
    return np.array(
        [sum(bin(int(a ^ b)).count("1") for a, b in zip(row, query, strict=True)) for row in codes]
    )


@pytest.mark.parametrize("nbytes", [8, 32, 5])
def test_distances_match_brute_force(nbytes):
    rng = np.random.default_rng(nbytes)
    codes = rng.integers(0, 256, size=(200, nbytes), dtype=np.uint8)
    query = rng.integers(0, 256, size=nbytes, dtype=np.uint8)
    index = LinearIndex(codes)
    assert np.array_equal(index.distances(query), _brute(codes, query))


def test_query_returns_rows_within_threshold_nearest_first_ties_by_row():
    codes = np.zeros((6, 8), dtype=np.uint8)
    codes[1, 0] = 0b1  # distance 1
    codes[2, 0] = 0b11  # distance 2
    codes[3, :] = 0xFF  # distance 64
    codes[4, 0] = 0b1  # distance 1, later row
    hits = build_index(codes).query(np.zeros(8, np.uint8), max_distance=2)
    assert hits.rows.tolist() == [0, 5, 1, 4, 2]
    assert hits.distances.tolist() == [0, 0, 1, 1, 2]
    limited = build_index(codes).query(np.zeros(8, np.uint8), max_distance=2, limit=2)
    assert limited.rows.tolist() == [0, 5]


def test_empty_index_and_length_mismatch():
    empty = LinearIndex(np.zeros((0, 32), np.uint8))
    assert len(empty.query(np.zeros(32, np.uint8), 10)) == 0
    with pytest.raises(ValueError, match="different length"):
        LinearIndex(np.zeros((3, 32), np.uint8)).query(np.zeros(8, np.uint8), 3)
