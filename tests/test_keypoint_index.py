"""Keypoint retrieval: the chunk index against brute force, stop words, idf-ranked votes."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import provcheck.search.keypoint_index as keypoint_index
from provcheck.search.keypoint_index import KeypointIndex, Votes


def _sharing_pairs(query: np.ndarray, stored: np.ndarray) -> set[tuple[int, int]]:
    """Brute force: (query row, stored row) pairs equal in at least one 16-bit chunk."""
    q, s = query.view("<u2"), stored.view("<u2")
    same = (q[:, None, :] == s[None, :, :]).any(axis=2)
    return set(zip(*(a.tolist() for a in np.nonzero(same)), strict=True))


def test_votes_find_close_descriptors_and_count_each_keypoint_once():
    rng = np.random.default_rng(3)
    stored = rng.integers(0, 256, size=(400, 32), dtype=np.uint8)
    owners = np.repeat(np.arange(100), 4)
    stored[9] = stored[8]  # item 2 holds the same descriptor twice: still one vote
    index = KeypointIndex.build(owners, stored)
    query = stored[[8, 6, 333]].copy()
    flip = rng.choice(256, size=40, replace=False)  # 40 bits off: a typical true match
    bits = np.unpackbits(query[0])
    bits[flip] ^= 1
    query[0] = np.packbits(bits)
    counts = {item: v.count for item, v in index.votes(query, max_distance=48).items()}
    assert counts == {2: 1, 1: 1, 83: 1}  # 40 bits off still shares a chunk with row 8
    assert set(index.votes(query[1:], max_distance=0)) == {1, 83}
    assert KeypointIndex.build(owners[:0], stored[:0]).votes(query, 10) == {}
    assert index.votes(query[:0], 10) == {}


def test_candidates_are_exactly_the_chunk_sharing_pairs_below_the_stop_word_size():
    rng = np.random.default_rng(4)
    # Skewed like real ORB chunks: few distinct values, so buckets are large and pairs share
    # several chunks (each shared chunk yields the pair once).
    stored = rng.choice(np.arange(0, 256, 17, dtype=np.uint8), size=(3000, 32))
    owners = np.repeat(np.arange(750), 4)
    index = KeypointIndex.build(owners, stored)
    query = stored[rng.choice(3000, 20, replace=False)].copy()
    query[:, :4] ^= rng.integers(0, 256, size=(20, 4), dtype=np.uint8)
    q_rows, s_rows = index.candidates(query)
    found = list(zip(q_rows.tolist(), s_rows.tolist(), strict=True))
    assert set(found) == _sharing_pairs(query, stored)
    shared = (query.view("<u2")[q_rows] == stored.view("<u2")[s_rows]).sum(axis=1)
    times = Counter(found)
    assert all(times[pair] == n for pair, n in zip(found, shared.tolist(), strict=True))


def test_votes_agree_with_an_exhaustive_scan():
    rng = np.random.default_rng(5)
    stored = rng.integers(0, 256, size=(2000, 32), dtype=np.uint8)
    owners = np.repeat(np.arange(500), 4)
    index = KeypointIndex.build(owners, stored)
    query = stored[rng.choice(2000, 50, replace=False)].copy()
    query[:, :4] ^= rng.integers(0, 256, size=(50, 4), dtype=np.uint8)  # <= 32 bits off
    exact = np.bitwise_count(query[:, None, :] ^ stored[None, :, :]).sum(axis=2)
    sharing = np.zeros_like(exact, dtype=bool)
    for q, s in _sharing_pairs(query, stored):
        sharing[q, s] = True
    close = (exact <= 32) & sharing
    want: dict[int, int] = {}
    for q in range(len(query)):
        for item in set(owners[np.flatnonzero(close[q])].tolist()):
            want[item] = want.get(item, 0) + 1
    got = index.votes(query, 32)
    assert {item: v.count for item, v in got.items()} == want
    assert len(got) >= 50 * 0.9


def test_a_keypoint_voting_for_many_items_weighs_less_than_a_rare_one():
    rng = np.random.default_rng(6)
    stored = rng.integers(0, 256, size=(400, 32), dtype=np.uint8)
    owners = np.repeat(np.arange(100), 4)
    common = rng.integers(0, 256, size=32, dtype=np.uint8)
    stored[0:200:4] = common  # one "HUD" descriptor in items 0..49
    index = KeypointIndex.build(owners, stored)
    query = np.stack([common, stored[301], stored[302]])  # the HUD, then two points of item 75
    votes = index.votes(query, 10)
    assert votes[75].count == 2 and all(votes[i].count == 1 for i in range(50))
    assert votes[3].score == pytest.approx(np.log(101 / 50))
    assert votes[75].score == pytest.approx(2 * np.log(101 / 1))
    # Equal counts, but the rare point outranks one HUD hit.
    rare = index.votes(np.stack([common, stored[301]]), 10)
    assert rare[75].score > rare[0].score and rare[75].count == rare[0].count == 1
    assert isinstance(rare[75], Votes)


def test_over_full_buckets_are_stop_words(monkeypatch):
    rng = np.random.default_rng(7)
    stored = rng.integers(0, 256, size=(600, 32), dtype=np.uint8)
    stored[:300, 0:2] = 0  # chunk 0 holds value 0 in half the rows: a stop word below
    owners = np.arange(600)
    query = stored[[5]].copy()
    query[0, 2:] ^= 0xFF  # only chunk 0 is shared, with 300 rows
    index = KeypointIndex.build(owners, stored)
    assert len(index.candidates(query)[0]) == 300  # small corpus: no stop words
    monkeypatch.setattr(keypoint_index, "MIN_STOP_WORD", 100)
    index = KeypointIndex.build(owners, stored)
    assert index.stop_word == 100
    assert len(index.candidates(query)[0]) == 0
    assert 5 in index.votes(stored[[5]], 0)  # other chunks still find the row itself


def test_tables_that_do_not_fit_are_refused():
    stored = np.zeros((4, 32), np.uint8)
    index = KeypointIndex.build(np.arange(4), stored)
    with pytest.raises(ValueError, match="do not fit"):
        KeypointIndex(index.owners, stored, index.order[:, :3], index.starts)
    with pytest.raises(ValueError, match="32 bytes"):
        KeypointIndex(index.owners, stored[:, :8], index.order, index.starts)
    with pytest.raises(ValueError, match="one owner"):
        KeypointIndex.build(np.arange(3), stored)


def _ranked_by_dicts(index: KeypointIndex, voting, reserve: int) -> dict[int, tuple[int, int]]:
    """The matcher's retrieval ranking as it was written with one ``Votes`` object per item: the
    reference the array version must reproduce exactly (order included)."""
    from provcheck.matching.candidates import MIN_VOTES, QUERY_VOTERS, VOTE_DISTANCE

    votes: dict[int, list[Votes]] = {}
    none = Votes(0, 0.0)
    for side, descriptors in voting:
        for item, found in index.votes(descriptors[:QUERY_VOTERS], VOTE_DISTANCE).items():
            held = votes.setdefault(item, [none, none])
            if found.score > held[side].score:
                held[side] = found
    ranked = sorted(
        (max(v.score for v in sides), item)
        for item, sides in votes.items()
        if max(v.count for v in sides) >= MIN_VOTES
    )
    return {
        item: (votes[item][0].count, votes[item][1].count)
        for _, item in reversed(ranked[-reserve:])
    }


@pytest.mark.parametrize("seed", range(8))
def test_matcher_ranks_retrieved_items_exactly_as_per_item_votes_do(seed, monkeypatch):
    """The matcher merges the vote arrays of every voting keypoint set (as is, inner picture,
    zoomed, mirrored, and the mirror's zoomed ones when the mirror image voted more strongly) in
    numpy; the order and the counts must be those of the plain loop."""
    from types import SimpleNamespace

    import provcheck.matching.candidates as candidates_module
    from provcheck.signals.fingerprint import Fingerprint, QueryFingerprint
    from provcheck.signals.keypoints import Features

    rng = np.random.default_rng(seed)
    scenes = rng.integers(0, 256, size=(30, 32), dtype=np.uint8)
    # 200 items, each holding noisy copies of a few shared scene points (ties and overlaps).
    owners = np.repeat(np.arange(1, 201), 8)
    stored = scenes[rng.integers(0, 30, size=len(owners))]
    noise = np.packbits(rng.random((len(owners), 256)) < 0.06, axis=1)
    stored = stored ^ noise

    def keypoints(n: int) -> Features:
        rows = scenes[rng.integers(0, 30, size=n)] ^ np.packbits(rng.random((n, 256)) < 0.06, 1)
        return Features(np.zeros((n, 2), np.float32), rows, 100, 100)

    def junk(n: int) -> Features:  # keypoints of nothing stored: they vote for nobody
        rows = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
        return Features(np.zeros((n, 2), np.float32), rows, 100, 100)

    index = KeypointIndex.build(owners, stored)
    mirror_leads = seed >= 4  # a flipped picture: only its mirror image's keypoints vote
    sets = [
        junk(40) if mirror_leads else keypoints(40),
        None if seed % 2 else (junk(25) if mirror_leads else keypoints(25)),
        junk(30) if mirror_leads else keypoints(30),
        keypoints(20),
        keypoints(15),
    ]
    query = QueryFingerprint(
        Fingerprint({}, 100, sets[0]),
        {},
        mirrored_features=sets[3],
        inner_features=sets[1],
        zoomed_features=sets[2],
        mirrored_zoomed_features=sets[4],
    )
    ref = SimpleNamespace(keypoint_retrieval=True, keypoints=index)
    monkeypatch.setattr(candidates_module, "MAX_LOCAL_RESERVE", 25)
    got, voted_as = candidates_module.keypoint_candidates(ref, query)
    assert (voted_as.mirrored_zoomed_features is not None) == mirror_leads
    sides = [0, 0, 0, 1, 1] if mirror_leads else [0, 0, 0, 1]
    expected = _ranked_by_dicts(
        index, [(s, f.descriptors) for s, f in zip(sides, sets, strict=False) if f is not None], 25
    )
    assert len(got) == 25
    assert list(got.items()) == list(expected.items())
