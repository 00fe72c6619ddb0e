"""The linear index against a brute-force definition of Hamming distance, and keypoint votes."""

from __future__ import annotations

import numpy as np
import pytest

from provcheck.index import LinearIndex, build_index


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


def test_keypoint_votes_count_nearest_owners_across_blocks(monkeypatch):
    from provcheck import index

    monkeypatch.setattr(index, "VOTE_BLOCK", 7)  # force several blocks on a small array
    rng = np.random.default_rng(3)
    stored = rng.integers(0, 256, size=(40, 32), dtype=np.uint8)
    owners = np.repeat(np.arange(10), 4)
    votes = index.KeypointVotes(owners, stored)
    query = stored[[5, 6, 33]].copy()
    query[0, 0] ^= 0b111  # 3 bits off: still nearest to row 5
    assert votes.votes(query, max_distance=10) == {1: 2, 8: 1}
    assert votes.votes(query, max_distance=2) == {1: 1, 8: 1}
    assert index.KeypointVotes(owners[:0], stored[:0]).votes(query, 10) == {}
