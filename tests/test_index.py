"""Every fast index must return exactly what the linear scan returns."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provcheck.search.hash_index import (
    MULTI_INDEX_MIN_ROWS,
    LinearIndex,
    MultiIndex,
    build_index,
)


def _clustered(rng: np.random.Generator, rows: int, nbytes: int, flips: int) -> np.ndarray:
    """Codes in tight clusters (like frames of one video), so every radius has real neighbours."""
    centres = rng.integers(0, 256, (max(1, rows // 20), nbytes), dtype=np.uint8)
    codes = centres[rng.integers(0, len(centres), rows)].copy()
    bits = np.unpackbits(codes, axis=1)
    noise = rng.random(bits.shape) < flips / (nbytes * 8)
    return np.packbits(bits ^ noise, axis=1)


def _near(rng: np.random.Generator, codes: np.ndarray, k: int, flips: int) -> np.ndarray:
    picked = codes[rng.integers(0, len(codes), k)] if len(codes) else np.zeros((k, 32), np.uint8)
    bits = np.unpackbits(picked, axis=1)
    for row in bits:
        row[rng.choice(bits.shape[1], size=flips, replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def _same(fast: object, slow: object) -> None:
    assert np.array_equal(fast.rows, slow.rows)  # type: ignore[attr-defined]
    assert np.array_equal(fast.distances, slow.distances)  # type: ignore[attr-defined]
    assert fast.rows.dtype == slow.rows.dtype  # type: ignore[attr-defined]


#: (bytes per code, max_distance): PDQ and pHash at their defaults, exact match, tighter radii,
#: and radii loose enough that the multi-index falls back to its scan.
CASES = [(32, 31), (32, 0), (32, 15), (32, 64), (32, 200), (8, 8), (8, 0), (8, 3), (8, 20)]


@pytest.mark.parametrize("per_word", [4, 3])
@pytest.mark.parametrize(("nbytes", "max_distance"), CASES)
def test_multi_index_equals_linear_scan_seeded(
    nbytes: int, max_distance: int, per_word: int
) -> None:
    rng = np.random.default_rng(nbytes * 1000 + max_distance)
    codes = _clustered(rng, 3000, nbytes, flips=nbytes)
    fast, slow = MultiIndex.build(codes, per_word), LinearIndex(codes)
    queries = np.vstack(
        [
            _near(rng, codes, 10, 0),
            _near(rng, codes, 10, max(1, max_distance // 2)),
            _near(rng, codes, 10, max_distance + 1),
            rng.integers(0, 256, (5, nbytes), dtype=np.uint8),
        ]
    )
    batch = fast.query_many(queries, max_distance)
    for code, hits in zip(queries, batch, strict=True):
        expected = slow.query(code, max_distance)
        _same(hits, expected)
        _same(fast.query(code, max_distance), expected)
        _same(fast.query(code, max_distance, limit=2), slow.query(code, max_distance, limit=2))
    assert sum(len(h) for h in batch) > 0


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(0, 400),
    nbytes=st.sampled_from([8, 16, 32]),
    max_distance=st.integers(0, 70),
    flips=st.integers(0, 40),
    per_word=st.sampled_from([3, 4]),
)
def test_multi_index_equals_linear_scan_property(
    seed: int, rows: int, nbytes: int, max_distance: int, flips: int, per_word: int
) -> None:
    rng = np.random.default_rng(seed)
    codes = _clustered(rng, rows, nbytes, flips=min(flips, nbytes * 8))
    if rows:
        queries = _near(rng, codes, 4, min(flips, nbytes * 8))
    else:
        queries = rng.integers(0, 256, (4, nbytes), dtype=np.uint8)
    fast, slow = MultiIndex.build(codes, per_word), LinearIndex(codes)
    for code, hits in zip(queries, fast.query_many(queries, max_distance), strict=True):
        _same(hits, slow.query(code, max_distance))


def test_empty_index_and_duplicates() -> None:
    empty = MultiIndex.build(np.zeros((0, 32), np.uint8))
    assert len(empty) == 0
    assert len(empty.query(np.zeros(32, np.uint8), 31)) == 0
    same = np.tile(np.arange(32, dtype=np.uint8), (50, 1))
    hits = MultiIndex.build(same).query(same[0], 0)
    assert hits.rows.tolist() == list(range(50))
    assert hits.distances.tolist() == [0] * 50


def test_wrong_query_length_is_refused() -> None:
    index = MultiIndex.build(np.zeros((10, 32), np.uint8))
    with pytest.raises(ValueError, match="different length"):
        index.query(np.zeros(8, np.uint8), 8)


def test_build_index_picks_by_size() -> None:
    rng = np.random.default_rng(7)
    assert isinstance(build_index(rng.integers(0, 256, (100, 32), np.uint8)), LinearIndex)
    big = rng.integers(0, 256, (MULTI_INDEX_MIN_ROWS, 8), np.uint8)
    index = build_index(big)
    assert isinstance(index, MultiIndex)
    _same(index.query(big[5], 8), LinearIndex(big).query(big[5], 8))


@pytest.mark.parametrize("per_word", [4, 3])
def test_tables_round_trip(per_word: int) -> None:
    codes = np.random.default_rng(3).integers(0, 256, (500, 32), np.uint8)
    built = MultiIndex.build(codes, per_word)
    again = MultiIndex(codes, built.order.copy(), built.starts.copy(), per_word)
    _same(again.query(codes[1], 31), built.query(codes[1], 31))
    with pytest.raises(ValueError, match="do not fit"):
        MultiIndex(codes[:10], built.order, built.starts, per_word)
    with pytest.raises(ValueError, match="do not fit"):
        MultiIndex(codes, built.order, built.starts, 7 - per_word)
