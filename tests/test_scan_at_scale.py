"""Scans through the multi-index and its sidecar give the answers the linear scan gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from provcheck.cli import cli
from provcheck.matching.matcher import Matcher
from provcheck.matching.references import ReferenceSet
from provcheck.media.images import load_image
from provcheck.search import hash_index as index
from provcheck.search.hash_index import LinearIndex, MultiIndex
from provcheck.signals.fingerprint import Fingerprint, QueryFingerprint, query_fingerprint
from provcheck.signals.hashes import Hash
from provcheck.store import NewItem, SourceInfo, StoredHash, open_store

DEVSET = Path(__file__).resolve().parents[2] / "shared" / "devset" / "frames"


@pytest.fixture(autouse=True)
def _cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _store_codes(path: Path, pdq: np.ndarray, phash: np.ndarray) -> None:
    with open_store(path, create=True) as store, store.transaction():
        source_id, _ = store.ensure_source(SourceInfo("refs", "game"))
        store.add_items_bulk(
            NewItem(
                source_id,
                origin=f"frame{i}",
                item_key=f"k{i}",
                hashes=[
                    StoredHash(Hash("pdq", p.tobytes()), 100),
                    StoredHash(Hash("phash", h.tobytes())),
                ],
            )
            for i, (p, h) in enumerate(zip(pdq, phash, strict=True))
        )


def _flip(rng: np.random.Generator, code: np.ndarray, n: int) -> bytes:
    bits = np.unpackbits(code)
    bits[rng.choice(len(bits), n, replace=False)] ^= 1
    return np.packbits(bits).tobytes()


def test_matcher_same_matches_with_either_index(tmp_path: Path, monkeypatch) -> None:
    rng = np.random.default_rng(11)
    pdq = rng.integers(0, 256, (400, 32), np.uint8)
    pdq[200:210] = pdq[100]  # near-duplicates: several matches for one query
    phash = rng.integers(0, 256, (400, 8), np.uint8)
    db = tmp_path / "refs.sqlite"
    _store_codes(db, pdq, phash)
    queries = []
    for i in (100, 5, 399):
        variants = {
            "pdq": [Hash("pdq", _flip(rng, pdq[i], 20))]
            + [Hash("pdq", _flip(rng, pdq[(i + k) % 400], 40)) for k in range(1, 8)],
            "phash": [
                Hash("phash", _flip(rng, phash[i], 6)),
                Hash("phash", phash[i + 1 - 400].tobytes()),
            ],
        }
        fp = Fingerprint({k: v[0] for k, v in variants.items()}, 100)
        queries.append(QueryFingerprint(fp, variants))

    def run(min_rows: int, kind: type) -> list[list[tuple[int, dict[str, int], str]]]:
        monkeypatch.setattr(index, "MULTI_INDEX_MIN_ROWS", min_rows)
        with open_store(db) as store:
            ref = ReferenceSet(store, ("pdq", "phash"))
            assert all(isinstance(i, kind) for i in ref.indexes.values())
            matcher = Matcher([ref])
            return [
                [(m.item.id, m.distances, m.transform) for m in matcher.match(q, limit=20)]
                for q in queries
            ]

    linear = run(10**9, LinearIndex)
    fast = run(100, MultiIndex)
    cached = run(100, MultiIndex)  # second time from the memory-mapped sidecar
    assert fast == linear == cached
    assert len(linear[0]) >= 11 and all(linear)


def test_cli_scan_finds_a_real_frame_among_many(tmp_path: Path, monkeypatch) -> None:
    frames = sorted(DEVSET.glob("wesnoth/*.jpg"))
    if not frames:
        pytest.skip("devset not present")
    monkeypatch.setattr(index, "MULTI_INDEX_MIN_ROWS", 100)
    rng = np.random.default_rng(5)
    query = query_fingerprint(load_image(frames[0]).image).fingerprint
    pdq = rng.integers(0, 256, (500, 32), np.uint8)
    phash = rng.integers(0, 256, (500, 8), np.uint8)
    pdq[321] = np.frombuffer(query.hashes["pdq"].bits, np.uint8)
    phash[321] = np.frombuffer(query.hashes["phash"].bits, np.uint8)
    db = tmp_path / "refs.sqlite"
    _store_codes(db, pdq, phash)
    copy = tmp_path / "reposted.jpg"
    with Image.open(frames[0]) as im:
        im.save(copy, quality=60)  # re-encoded, as a re-post would be
    for _ in range(2):  # builds the sidecar, then reads it
        result = CliRunner().invoke(cli, ["scan", str(copy), "--db", str(db), "--format", "json"])
        assert result.exit_code == 1, result.output
        assert '"origin": "frame321"' in result.output
    assert (tmp_path / "refs.sqlite.arrays" / "pdq.json").exists()
