"""The bulk import path: same answers as row-by-row, idempotent, all or nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from provcheck.errors import FormatError
from provcheck.services.packs.export import export_lines
from provcheck.services.packs.importing import import_file
from provcheck.signals.hashes import Hash
from provcheck.store import NewItem, SourceInfo, StoredHash, open_store

DEFAULT = SourceInfo("partner", "footage", first_seen="2026-01-02")


def _hexes(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [row.tobytes().hex() for row in rng.integers(0, 256, (n, 32), dtype=np.uint8)]


def _write_list(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_pdq_list_import_is_idempotent_and_counts(tmp_path: Path) -> None:
    hexes = _hexes(300)
    lines = [h if i % 3 else f"{h}  other source" for i, h in enumerate(hexes)]
    lines.append(hexes[1])  # the same item twice in one file
    listing = _write_list(tmp_path / "list.txt", ["# a comment", *lines])
    with open_store(tmp_path / "db.sqlite", create=True) as store:
        first = import_file(store, listing, default_source=DEFAULT)
        second = import_file(store, listing, default_source=DEFAULT)
        stored = {h.hash.hex for item in store.items(with_hashes=True) for h in item.hashes}
        labels = sorted(s.info.label for s in store.sources())
    assert (first.items_added, first.items_present, first.sources_created) == (300, 1, 2)
    assert (second.items_added, second.items_present, second.sources_created) == (0, 301, 0)
    assert stored == set(hexes)
    assert labels == ["other source", "partner"]


def test_bad_line_leaves_database_unchanged(tmp_path: Path) -> None:
    good = _write_list(tmp_path / "good.txt", _hexes(10, seed=1))
    bad_lines = _hexes(120_000, seed=2)  # more than one chunk goes in before the bad line
    bad_lines.append("not-a-hash")
    bad = _write_list(tmp_path / "bad.txt", bad_lines)
    with open_store(tmp_path / "db.sqlite", create=True) as store:
        import_file(store, good, default_source=DEFAULT)
        before = store.stats()
        generation = store.generation()
        with pytest.raises(FormatError, match=r"bad\.txt:120001"):
            import_file(store, bad, default_source=DEFAULT)
        assert store.stats()["items"] == before["items"] == 10
        assert store.stats()["hashes"] == before["hashes"]
        assert store.generation() == generation


def test_export_round_trip_through_bulk_path(tmp_path: Path) -> None:
    with open_store(tmp_path / "a.sqlite", create=True) as store, store.transaction():
        source_id, _ = store.ensure_source(SourceInfo("game", "game", url="https://x.test"))
        for i, hex_digits in enumerate(_hexes(20, seed=3)):
            store.add_item(
                source_id,
                origin=f"/frames/{i}.jpg",
                item_key=f"sha{i}",
                sha256=f"sha{i}",
                width=640,
                height=480,
                frame_time=None if i % 2 else i * 0.5,
                hashes=[
                    StoredHash(Hash.from_hex("pdq", hex_digits), 90, (0.0, 0.0, 0.5, 0.5)),
                    StoredHash(Hash.from_hex("phash", hex_digits[:16])),
                ],
            )
    with open_store(tmp_path / "a.sqlite") as store:
        exported = list(export_lines(store))
    (tmp_path / "a.jsonl").write_text("\n".join(exported) + "\n", encoding="utf-8")
    with open_store(tmp_path / "b.sqlite", create=True) as copy:
        report = import_file(copy, tmp_path / "a.jsonl")
        again = list(export_lines(copy))
    assert report.items_added == 20
    assert again[1:] == exported[1:]


def test_bulk_add_needs_a_transaction(tmp_path: Path) -> None:
    with open_store(tmp_path / "db.sqlite", create=True) as store:
        with store.transaction():
            source_id, _ = store.ensure_source(DEFAULT)
        item = NewItem(source_id, "o", "k", [StoredHash(Hash.from_hex("pdq", _hexes(1)[0]))])
        with pytest.raises(Exception, match="inside a transaction"):
            store.add_items_bulk([item])
        with store.transaction():
            assert store.add_items_bulk([item, item]) == (1, 1)
            assert store.add_items_bulk([item]) == (0, 1)
