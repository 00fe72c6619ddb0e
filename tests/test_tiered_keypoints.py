"""A keypoint index in parts answers exactly as one index built over all of them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import provcheck.search.keypoint_index as keypoint_index
from provcheck.search.keypoint_index import KeypointIndex
from provcheck.search.tiered_keypoints import TieredKeypointIndex, merge_plan


def _corpus(rng: np.random.Generator, items: int, per_item: int, alphabet: int) -> np.ndarray:
    """Descriptors from a small alphabet of byte values: large buckets, shared chunks and stop
    words, as real ORB chunks have."""
    values = np.arange(0, 256, 256 // alphabet, dtype=np.uint8)
    return rng.choice(values, size=(items * per_item, 32))


def _same(a: keypoint_index.VoteArrays, b: keypoint_index.VoteArrays) -> None:
    assert np.array_equal(a.items, b.items)
    assert np.array_equal(a.counts, b.counts)
    assert np.array_equal(a.scores, b.scores)  # the same sums, in the same order: bit for bit


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    sizes=st.lists(st.integers(0, 80), min_size=1, max_size=4),
    alphabet=st.sampled_from([4, 16, 256]),
    stop_word=st.sampled_from([3, 20, 512]),
    max_distance=st.sampled_from([0, 40, 256]),
)
def test_parts_vote_exactly_as_one_index_over_their_union(
    seed, sizes, alphabet, stop_word, max_distance
):
    # A small stop-word floor so that the parts' runs must be summed to get it right.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("provcheck.search.keypoint_index.MIN_STOP_WORD", stop_word)
        patch.setattr("provcheck.search.tiered_keypoints.MIN_STOP_WORD", stop_word)
        _check_union(seed, sizes, alphabet, max_distance)


def _check_union(seed: int, sizes: list[int], alphabet: int, max_distance: int) -> None:
    rng = np.random.default_rng(seed)
    parts, owners_all, rows_all = [], [], []
    first = 0
    for size in sizes:
        rows = _corpus(rng, size, 4, alphabet)
        owners = np.repeat(np.arange(first, first + size, dtype=np.int64), 4)
        first += size
        parts.append(KeypointIndex.build(owners, rows))
        owners_all.append(owners)
        rows_all.append(rows)
    whole = KeypointIndex.build(np.concatenate(owners_all), np.concatenate(rows_all))
    tiered = TieredKeypointIndex(parts)
    union = np.concatenate(rows_all)
    # Half copies of stored descriptors (close matches at any distance), half fresh ones.
    picked = union[rng.integers(0, len(union), 8)] if len(union) else _corpus(rng, 2, 4, alphabet)
    query = np.concatenate([picked, _corpus(rng, 2, 4, alphabet)])
    assert len(tiered) == len(whole) and tiered.items == whole.items
    _same(tiered.vote_arrays(query, max_distance), whole.vote_arrays(query, max_distance))
    assert tiered.votes(query, max_distance) == whole.votes(query, max_distance)


def test_empty_parts_and_empty_queries_vote_for_nothing():
    empty = KeypointIndex.build(np.zeros(0, np.int64), np.zeros((0, 32), np.uint8))
    tiered = TieredKeypointIndex([empty, empty])
    assert len(tiered) == 0 and tiered.votes(np.zeros((3, 32), np.uint8), 40) == {}
    one = KeypointIndex.build(np.array([7]), np.zeros((1, 32), np.uint8))
    assert TieredKeypointIndex([one]).votes(np.zeros((0, 32), np.uint8), 40) == {}
    assert TieredKeypointIndex([empty, one]).votes(np.zeros((1, 32), np.uint8), 0) == {
        7: keypoint_index.Votes(1, float(np.log(2)))
    }


def test_merge_plan_keeps_parts_geometric():
    assert merge_plan([]) == 0
    assert merge_plan([1000]) == 0
    assert merge_plan([1000, 100, 20]) == 0  # 20 < a quarter of 100, 120 of 1000
    assert merge_plan([1000, 200, 60]) == 3  # 260 >= 250: everything into one
    assert merge_plan([1000, 100, 30]) == 2  # 30 >= 25: the last two
