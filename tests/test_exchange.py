"""Export/import: lossless round trip, PDQ lists, all-or-nothing on malformed files."""

from __future__ import annotations

import json

import pytest

from provcheck.errors import FormatError, UsageError
from provcheck.services.packs.export import export_lines
from provcheck.services.packs.importing import import_file
from provcheck.services.packs.records import FORMAT_VERSION
from provcheck.signals.hashes import Hash
from provcheck.store import SourceInfo, StoredHash, open_store

PDQ_A = "f" * 32 + "0" * 32
PDQ_B = "0123456789abcdef" * 4


def _fill(store):
    with store.transaction():
        sid, _ = store.ensure_source(
            SourceInfo("Game", "game", "https://g.example", "2015-06-01", "CC-BY", "trailer frames")
        )
        store.add_item(
            sid,
            origin="/data/a.jpg",
            item_key="a" * 64,
            sha256="a" * 64,
            width=640,
            height=480,
            hashes=[
                StoredHash(Hash.from_hex("pdq", PDQ_A), 87),
                StoredHash(Hash("phash", b"\x01" * 8)),
            ],
        )
        store.add_item(
            sid,
            origin="/data/v.mp4",
            item_key="b" * 64,
            sha256="b" * 64,
            width=1280,
            height=720,
            frame_time=83.5,
            hashes=[StoredHash(Hash.from_hex("pdq", PDQ_B), 100, (0.1, 0.2, 0.5, 0.5))],
        )
        other, _ = store.ensure_source(SourceInfo("Old strike", "footage", first_seen="2019-02-03"))
        store.add_item(
            other,
            origin="https://x.example/1.jpg",
            item_key="c" * 64,
            hashes=[StoredHash(Hash.from_hex("pdq", PDQ_A[::-1]), 50)],
        )


def test_export_then_import_round_trips_losslessly(tmp_path):
    with open_store(tmp_path / "a.sqlite", create=True) as store:
        _fill(store)
        first = list(export_lines(store))
    dump = tmp_path / "dump.jsonl"
    dump.write_text("\n".join(first) + "\n")
    with open_store(tmp_path / "b.sqlite", create=True) as copy:
        report = import_file(copy, dump)
        assert (report.format, report.items_added, report.sources_created) == ("export", 3, 2)
        second = list(export_lines(copy))
    assert first == second
    header = json.loads(first[0])
    assert header["format"] == "provcheck-export" and header["version"] == FORMAT_VERSION


def test_import_twice_is_idempotent(tmp_path):
    with open_store(tmp_path / "a.sqlite", create=True) as store:
        _fill(store)
        dump = tmp_path / "dump.jsonl"
        dump.write_text("\n".join(export_lines(store)) + "\n")
        report = import_file(store, dump)
        assert (report.items_added, report.items_present) == (0, 3)


def test_pdq_list_with_and_without_labels(tmp_path):
    listing = tmp_path / "hashes.txt"
    listing.write_text(f"# shared list\n{PDQ_A}\n{PDQ_B.upper()}   Strike video 2019\n\n")
    default = SourceInfo("Partner list", "footage", first_seen="2020-01-01")
    with open_store(tmp_path / "db.sqlite", create=True) as store:
        report = import_file(store, listing, default_source=default)
        assert (report.format, report.items_added, report.sources_created) == ("pdq-list", 2, 2)
        labels = {s.info.label: s.item_count for s in store.sources()}
        assert labels == {"Partner list": 1, "Strike video 2019": 1}
        item = store.items(with_hashes=True)[1]
        assert item.hashes[0].hash.hex == PDQ_B.lower()
        assert item.origin.endswith("hashes.txt:3")


def test_pdq_list_needs_a_source(tmp_path):
    listing = tmp_path / "hashes.txt"
    listing.write_text(PDQ_A + "\n")
    with (
        open_store(tmp_path / "db.sqlite", create=True) as store,
        pytest.raises(UsageError, match="--label"),
    ):
        import_file(store, listing)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{PDQ_A}\nnot-a-hash\n", r"hashes.txt:2: expected 64 hex digits"),
        (f"{PDQ_A[:-1]}\n", r"hashes.txt:1"),
    ],
)
def test_malformed_pdq_list_changes_nothing(tmp_path, text, message):
    listing = tmp_path / "hashes.txt"
    listing.write_text(text)
    with open_store(tmp_path / "db.sqlite", create=True) as store:
        with pytest.raises(FormatError, match=message):
            import_file(store, listing, default_source=SourceInfo("L", "other"))
        assert store.stats()["items"] == 0


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"format": "provcheck-export", "version": 99}'], "version 99"),
        (
            ['{"format": "provcheck-export", "version": 1}', '{"type": "item", "source": 7}'],
            "missing field|no earlier line",
        ),
        (['{"format": "provcheck-export", "version": 1}', "{broken"], ":2: not valid JSON"),
        (
            [
                '{"format": "provcheck-export", "version": 1}',
                '{"type": "source", "key": 1, "label": "x", "category": "nope"}',
            ],
            "category",
        ),
    ],
)
def test_malformed_export_changes_nothing(tmp_path, lines, message):
    dump = tmp_path / "dump.jsonl"
    dump.write_text("\n".join(lines) + "\n")
    with open_store(tmp_path / "db.sqlite", create=True) as store:
        with pytest.raises(FormatError, match=message):
            import_file(store, dump)
        assert store.stats()["sources"] == 0


def test_binary_file_is_not_an_import(tmp_path):
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 4)
    with open_store(tmp_path / "db.sqlite", create=True) as store, pytest.raises(FormatError):
        import_file(store, blob, default_source=SourceInfo("L", "other"))
