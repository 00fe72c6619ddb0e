"""Two nearest descriptors: FAISS and numpy answer as brute force does, and verification's
pairs (ratio test, one per reference keypoint, in first-claimant order) are the same either way."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from provcheck.matching import geometry as verify
from provcheck.search import nearest as hamming
from provcheck.search.nearest import MISSING, two_nearest
from provcheck.signals.keypoints import extract

DATA = Path(__file__).parent / "data"
BACKENDS = [
    pytest.param("numpy", id="numpy"),
    pytest.param(
        "faiss",
        id="faiss",
        marks=pytest.mark.skipif(
            hamming.backend() != "faiss", reason="the `fast` extra (faiss-cpu) is not installed"
        ),
    ),
]


def _on(backend: str) -> contextlib.AbstractContextManager[object]:
    """``provcheck.search.nearest`` answering with ``backend``: numpy is what it falls back to when
    FAISS cannot be imported."""
    if backend == "faiss":
        return contextlib.nullcontext()
    return mock.patch.object(hamming, "_faiss", lambda: None)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    with _on(request.param):
        assert hamming.backend() == request.param
        yield request.param


def _brute_force(query: np.ndarray, reference: np.ndarray) -> np.ndarray:
    bits = np.unpackbits(query[:, None, :] ^ reference[None, :, :], axis=2)
    return bits.sum(axis=2)


def _check(query: np.ndarray, reference: np.ndarray) -> None:
    nearest, first, second = two_nearest(query, reference)
    full = _brute_force(query, reference)
    ranked = np.sort(full, axis=1)
    assert np.array_equal(first, ranked[:, 0])
    assert np.array_equal(full[np.arange(len(query)), nearest], first)  # a tie may name either
    expected_second = ranked[:, 1] if reference.shape[0] > 1 else np.full(len(query), MISSING)
    assert np.array_equal(second, expected_second)


def _near_copies(rng: np.random.Generator, rows: np.ndarray, bits: int) -> np.ndarray:
    out = np.unpackbits(rows, axis=1)
    for row in out:
        row[rng.choice(256, size=bits, replace=False)] ^= 1
    return np.packbits(out, axis=1)


def test_two_nearest_is_brute_force_with_ties_and_near_copies(backend: str) -> None:
    rng = np.random.default_rng(11)
    reference = rng.integers(0, 256, size=(300, 32), dtype=np.uint8)
    reference[7] = reference[3]  # exact ties: the ratio test must see first == second
    query = np.vstack(
        [
            reference[[3, 10, 299]],
            _near_copies(rng, reference[20:60], 30),
            rng.integers(0, 256, size=(200, 32), dtype=np.uint8),  # past one numpy block
        ]
    )
    _check(query, reference)
    nearest, first, second = two_nearest(query, reference)
    assert first[0] == second[0] == 0 and nearest[0] in (3, 7)
    assert np.array_equal(nearest[1:3], [10, 299]) and np.array_equal(first[1:3], [0, 0])
    assert np.array_equal(nearest[3:43], np.arange(20, 60))


def test_two_nearest_edges(backend: str) -> None:
    rng = np.random.default_rng(2)
    reference = rng.integers(0, 256, size=(1, 32), dtype=np.uint8)
    query = rng.integers(0, 256, size=(5, 32), dtype=np.uint8)
    _check(query, reference)  # one row: no second neighbour
    empty = np.zeros((0, 32), np.uint8)
    for found in (
        two_nearest(empty, reference),
        two_nearest(query, empty),
    ):
        assert all(len(a) == 0 for a in found)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 40),
    queries=st.integers(1, 300),
    alphabet=st.integers(1, 4),
)
def test_numpy_two_nearest_matches_brute_force(
    seed: int, rows: int, queries: int, alphabet: int
) -> None:
    # Few distinct byte values make many ties, the case where implementations disagree.
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 256, size=alphabet, dtype=np.uint8)
    reference = rng.choice(values, size=(rows, 32))
    query = rng.choice(values, size=(queries, 32))
    with _on("numpy"):
        _check(query, reference)


def _loop_pairs(
    query: np.ndarray, reference: np.ndarray
) -> tuple[list[int], list[int], Counter[int]]:
    """The pairing rule written as the per-match loop it replaced (OpenCV's knnMatch pairs),
    and how many query keypoints claimed each reference keypoint."""
    full = _brute_force(query, reference)
    best: dict[int, tuple[int, int]] = {}
    claims: Counter[int] = Counter()
    for q, row in enumerate(full):
        order = np.argsort(row, kind="stable")
        first, second = int(row[order[0]]), int(row[order[1]])
        if first > verify.MAX_DESCRIPTOR_DISTANCE or first >= verify.RATIO * second:
            continue
        claims[int(order[0])] += 1
        held = best.get(int(order[0]))
        if held is None or first < held[1]:
            best[int(order[0])] = (q, first)
    return [v[0] for v in best.values()], list(best), claims


def test_verification_pairs_follow_the_ratio_test_and_first_claimant_order(backend: str) -> None:
    picture = Image.open(DATA / "wesnoth.jpg").convert("RGB")
    w, h = picture.size
    reference = extract(picture, 512)
    crop = picture.crop((w // 10, h // 8, w // 10 + 7 * w // 10, h // 8 + 7 * h // 10))
    query = extract(crop, 700) + extract(crop.resize((crop.width // 2, crop.height // 2)), 300)
    q_idx, r_idx = verify._mutual_matches(query, reference)
    expected_q, expected_r, claims = _loop_pairs(query.descriptors, reference.descriptors)
    assert len(expected_q) >= 50  # a real crop: enough pairs for the order to matter
    assert max(claims.values()) > 1  # and contested reference keypoints: the tie rule matters
    assert q_idx.tolist() == expected_q and r_idx.tolist() == expected_r
