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


def test_keypoint_votes_find_close_descriptors_and_count_each_keypoint_once():
    from provcheck.index import KeypointVotes

    rng = np.random.default_rng(3)
    stored = rng.integers(0, 256, size=(400, 32), dtype=np.uint8)
    owners = np.repeat(np.arange(100), 4)
    stored[9] = stored[8]  # item 2 holds the same descriptor twice: still one vote
    votes = KeypointVotes(owners, stored)
    query = stored[[8, 6, 333]].copy()
    flip = rng.choice(256, size=40, replace=False)  # 40 bits off: a typical true match
    bits = np.unpackbits(query[0])
    bits[flip] ^= 1
    query[0] = np.packbits(bits)
    found = votes.votes(query, max_distance=48)
    assert found == {2: 1, 1: 1, 83: 1}  # 40 bits off still shares a chunk with row 8
    assert votes.votes(query[1:], max_distance=48) == {1: 1, 83: 1}
    assert votes.votes(query[1:], max_distance=0) == {1: 1, 83: 1}
    assert KeypointVotes(owners[:0], stored[:0]).votes(query, 10) == {}


def test_keypoint_votes_agree_with_an_exhaustive_scan_on_what_they_find():
    from provcheck.index import KeypointVotes

    rng = np.random.default_rng(4)
    stored = rng.integers(0, 256, size=(2000, 32), dtype=np.uint8)
    owners = np.repeat(np.arange(500), 4)
    index = KeypointVotes(owners, stored)
    query = stored[rng.choice(2000, 50, replace=False)].copy()
    query[:, :4] ^= rng.integers(0, 256, size=(50, 4), dtype=np.uint8)  # <= 32 bits off
    q_rows, s_rows = index.candidates(query)
    exact = np.bitwise_count(query[:, None, :] ^ stored[None, :, :]).sum(axis=2)
    # every pair within 32 bits that shares an untouched chunk is among the candidates
    want = {
        (q, s)
        for q, s in zip(*np.nonzero(exact <= 32), strict=True)
        if (query[q, 4:] == stored[s, 4:]).any()
    }
    assert want <= set(zip(q_rows.tolist(), s_rows.tolist(), strict=True))
    assert len(index.votes(query, 32)) >= 50 * 0.9
