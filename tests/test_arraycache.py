"""Memory-mapped sidecars: same answers as a fresh build, reused while fresh, rebuilt when stale."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from provcheck.search import hash_index as index
from provcheck.search.hash_index import LinearIndex, MultiIndex
from provcheck.signals.hashes import Hash
from provcheck.signals.keypoints import RETRIEVAL_FEATURES
from provcheck.store import FEATURE_KIND, NewItem, SourceInfo, StoredHash, open_store
from provcheck.store import sidecars as arraycache
from provcheck.store.sidecars import load_search, sidecar_dir

#: Keypoints stored per item by ``_fill_features``: more than retrieval takes.
KEPT = RETRIEVAL_FEATURES + 16


@pytest.fixture(autouse=True)
def small_threshold(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(index, "MULTI_INDEX_MIN_ROWS", 100)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _fill(path: Path, rows: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, (rows, 32), dtype=np.uint8)
    with open_store(path, create=True) as store, store.transaction():
        source_id, _ = store.ensure_source(SourceInfo(f"s{seed}", "footage"))
        store.add_items_bulk(
            NewItem(
                source_id,
                origin=f"o{i}",
                item_key=f"k{seed}-{i}",
                hashes=[
                    StoredHash(Hash("pdq", code.tobytes())),
                    StoredHash(Hash("phash", code[:8].tobytes())),
                ],
            )
            for i, code in enumerate(codes)
        )
    return codes


def _answers(store_path: Path, queries: np.ndarray) -> list[list[int]]:
    with open_store(store_path) as store:
        arrays, found = load_search(store, "pdq")
        return [arrays.item_ids[found.query(q, 31).rows].tolist() for q in queries]


def test_sidecar_answers_match_and_are_reused(tmp_path: Path) -> None:
    db = tmp_path / "refs.sqlite"
    codes = _fill(db, 300)
    queries = codes[[0, 5, 299]].copy()
    queries[:, 0] ^= 0b1011  # three bits away from a stored hash
    first = _answers(db, queries)
    folder = sidecar_dir(db)
    assert folder == tmp_path / "refs.sqlite.arrays"
    manifest = json.loads((folder / "pdq.json").read_text(encoding="utf-8"))
    files = sorted(p.name for p in folder.glob("pdq-*.npy"))
    assert len(files) == 5
    with open_store(db) as store:
        arrays, found = load_search(store, "pdq")
        assert isinstance(found, MultiIndex)
        assert isinstance(arrays.codes, np.memmap)
        linear = LinearIndex(np.asarray(store.kind_arrays("pdq").codes))
        for q in queries:
            assert found.query(q, 31).rows.tolist() == linear.query(q, 31).rows.tolist()
    assert first == _answers(db, queries)
    assert sorted(p.name for p in folder.glob("pdq-*.npy")) == files  # reused, not rewritten
    assert json.loads((folder / "pdq.json").read_text(encoding="utf-8")) == manifest
    assert all(len(a) == 1 for a in first)


def test_sidecar_rebuilt_when_database_changes(tmp_path: Path) -> None:
    db = tmp_path / "refs.sqlite"
    _fill(db, 300)
    _answers(db, np.zeros((1, 32), np.uint8))
    old = json.loads((sidecar_dir(db) / "pdq.json").read_text(encoding="utf-8"))
    extra = _fill(db, 150, seed=1)  # same database, more hashes
    found = _answers(db, extra[:3])
    new = json.loads((sidecar_dir(db) / "pdq.json").read_text(encoding="utf-8"))
    assert new["key"] != old["key"]
    assert new["rows"] == 450
    assert len(list(sidecar_dir(db).glob("pdq-*.npy"))) == 5  # the old generation is gone
    with open_store(db) as store:
        wanted = {r.item_key for r in store.items(i for ids in found for i in ids)}
    assert wanted == {"k1-0", "k1-1", "k1-2"}


def test_corrupt_sidecar_is_rebuilt(tmp_path: Path) -> None:
    db = tmp_path / "refs.sqlite"
    codes = _fill(db, 200)
    expected = _answers(db, codes[:2])
    manifest = sidecar_dir(db) / "pdq.json"
    for damage in ("{not json", json.dumps({"format": "other"})):
        manifest.write_text(damage, encoding="utf-8")
        assert _answers(db, codes[:2]) == expected
    for npy in sidecar_dir(db).glob("pdq-*.codes.npy"):
        npy.write_bytes(b"\x93NUMPY garbage")
    assert _answers(db, codes[:2]) == expected


def test_small_database_keeps_no_sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index, "MULTI_INDEX_MIN_ROWS", 10_000)
    db = tmp_path / "refs.sqlite"
    _fill(db, 50)
    with open_store(db) as store:
        _arrays, found = load_search(store, "pdq")
    assert isinstance(found, LinearIndex)
    assert not sidecar_dir(db).exists()


def test_unwritable_folder_uses_the_cache_folder(tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "refs.sqlite"
    codes = _fill(db, 200)
    monkeypatch.setattr(arraycache.os, "access", lambda *_args: False)
    folder = sidecar_dir(db)
    assert folder.is_relative_to(tmp_path / "cache")
    assert _answers(db, codes[:1]) == [[1]]
    assert (folder / "pdq.json").exists()


def _fill_features(path: Path, items: int, seed: int = 0) -> np.ndarray:
    """``items`` items with ``KEPT`` random keypoints each (``RETRIEVAL_FEATURES`` of them go
    into retrieval)."""
    from provcheck.signals.keypoints import Features

    rng = np.random.default_rng(seed)
    desc = rng.integers(0, 256, (items, KEPT, 32), dtype=np.uint8)
    with open_store(path, create=True) as store, store.transaction():
        source_id, _ = store.ensure_source(SourceInfo(f"f{seed}", "game"))
        for i in range(items):
            item_id, _ = store.add_item(
                source_id,
                origin=f"o{i}",
                item_key=f"f{seed}-{i}",
                hashes=[StoredHash(Hash("pdq", desc[i, 0].tobytes()))],
            )
            points = rng.uniform(0, 300, (KEPT, 2)).astype(np.float32)
            store.put_features(item_id, Features(points, desc[i], 320, 320))
    return desc


def test_keypoint_sidecar_is_reused_and_rebuilt_when_features_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provcheck.search.keypoint_index import KeypointIndex

    monkeypatch.setattr(arraycache, "KEYPOINT_SIDECAR_MIN_ITEMS", 5)
    db = tmp_path / "refs.sqlite"
    desc = _fill_features(db, 12)
    query = desc[[3, 7], :2].reshape(-1, 32)
    with open_store(db) as store:
        built = arraycache.load_keypoints(store)
        reused = arraycache.load_keypoints(store)
    n = RETRIEVAL_FEATURES
    fresh = KeypointIndex.build(np.repeat(np.arange(1, 13), n), desc[:, :n].reshape(-1, 32))
    assert isinstance(reused.order, np.memmap) and not isinstance(built.order, np.memmap)
    assert built.votes(query, 0) == reused.votes(query, 0) == fresh.votes(query, 0)
    assert {item: v.count for item, v in reused.votes(query, 0).items()} == {4: 2, 8: 2}
    assert desc[3, n + 6].tobytes() not in reused.descriptors.tobytes()  # only the strongest
    assert len(list((tmp_path / "refs.sqlite.arrays").glob(f"{FEATURE_KIND}-*.npy"))) == 4
    _fill_features(db, 3, seed=1)  # the generation moves on: the sidecar is stale
    with open_store(db) as store:
        again = arraycache.load_keypoints(store)
    assert not isinstance(again.order, np.memmap) and len(again) == 15 * n
    assert len(list((tmp_path / "refs.sqlite.arrays").glob(f"{FEATURE_KIND}-*.npy"))) == 4


def test_keypoint_sidecar_of_the_64_keypoint_layout_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sidecar written before retrieval kept 128 keypoints per item ("orb") is never read as
    current, and its files (6-7 KB per reference) are deleted once the new one is written."""
    monkeypatch.setattr(arraycache, "KEYPOINT_SIDECAR_MIN_ITEMS", 5)
    db = tmp_path / "refs.sqlite"
    _fill_features(db, 12)
    folder = sidecar_dir(db)
    folder.mkdir()
    with open_store(db) as store:
        key = store.content_key()
    legacy = {"owners": np.zeros(1, "<i8"), "descriptors": np.zeros((1, 32), np.uint8)}
    arraycache._write(folder, "orb", key, legacy, {"rows": 1, "items": 1})
    assert (folder / "orb.json").exists()
    with open_store(db) as store:
        found = arraycache.load_keypoints(store)
    assert len(found) == 12 * RETRIEVAL_FEATURES
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("orb-")) == []
    assert not (folder / "orb.json").exists()
    assert (folder / f"{FEATURE_KIND}.json").exists()


def test_small_keypoint_index_keeps_no_sidecar(tmp_path: Path) -> None:
    db = tmp_path / "refs.sqlite"
    _fill_features(db, 3)
    with open_store(db) as store:
        assert len(arraycache.load_keypoints(store)) == 3 * RETRIEVAL_FEATURES
    assert not list(tmp_path.glob("refs.sqlite.arrays/orb*"))
