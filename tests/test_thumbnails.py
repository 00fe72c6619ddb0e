"""Item previews: made small, stored at ``db add``, migrated in, exported only on request."""

from __future__ import annotations

import base64
import io
import json
import sqlite3

import pytest
from click.testing import CliRunner
from PIL import Image

from provcheck.cli import cli
from provcheck.errors import FormatError
from provcheck.services.ingest import add_files
from provcheck.services.packs.export import export_lines
from provcheck.services.packs.importing import import_file
from provcheck.signals.thumbnail import (
    MAX_SIDE,
    MIME_TYPES,
    make_thumbnail,
    thumbnail_from_untrusted,
)
from provcheck.store import SourceInfo, open_store
from provcheck.store.sqlite.schema import MIGRATIONS, SCHEMA_VERSION
from tests.report_fixtures import scene, write_scene

INFO = SourceInfo("Test game", "game", "https://example.org/game", "2015-06-01")


def _decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_thumbnail_is_small_and_keeps_aspect() -> None:
    thumb = make_thumbnail(scene(1, (1280, 720)))
    assert thumb.mime in MIME_TYPES
    image = _decoded(thumb.data)
    assert max(image.size) == MAX_SIDE
    assert image.size == (160, 90)
    assert len(thumb.data) < 12_000
    assert thumb.data_uri().startswith(f"data:{thumb.mime};base64,")


@pytest.mark.parametrize(
    ("mime", "data", "problem"),
    [
        ("text/html", b"<script>", "type must be one of"),
        ("image/svg+xml", b"<svg/>", "type must be one of"),
        ("image/webp", b"\0" * 70_000, "over the"),
        ("image/jpeg", b"not a jpeg at all", "not a readable"),
    ],
)
def test_untrusted_thumbnail_is_refused(mime: str, data: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        thumbnail_from_untrusted(mime, data)


def test_untrusted_thumbnail_mislabelled_type_is_refused() -> None:
    png = io.BytesIO()
    scene(2, (100, 60)).save(png, "PNG")
    with pytest.raises(ValueError, match="not a readable"):
        thumbnail_from_untrusted("image/jpeg", png.getvalue())
    # correctly labelled, it is accepted and re-encoded as our own kind of thumbnail
    ok = thumbnail_from_untrusted("image/png", png.getvalue())
    assert ok.mime in MIME_TYPES and _decoded(ok.data).size == (100, 60)


def test_oversized_untrusted_thumbnail_is_refused() -> None:
    png = io.BytesIO()
    Image.new("RGB", (2000, 10)).save(png, "PNG")
    with pytest.raises(ValueError, match="2000x10"):
        thumbnail_from_untrusted("image/png", png.getvalue())


def test_db_add_stores_thumbnails_and_removal_cascades(tmp_path) -> None:
    files = [write_scene(tmp_path / f"f{i}.jpg", i) for i in range(3)]
    with open_store(tmp_path / "r.sqlite", create=True) as store:
        report = add_files(store, INFO, files)
        assert report.added == 3
        items = store.items()
        thumbs = store.thumbnails([i.id for i in items])
        assert sorted(thumbs) == [i.id for i in items]
        assert max(_decoded(thumbs[items[0].id].data).size) == MAX_SIDE
        store.remove_item(items[0].id)
        assert items[0].id not in store.thumbnails([i.id for i in items])


def test_no_thumbnails_then_readding_fills_them_in(tmp_path) -> None:
    files = [write_scene(tmp_path / f"f{i}.jpg", i) for i in range(2)]
    with open_store(tmp_path / "r.sqlite", create=True) as store:
        add_files(store, INFO, files, thumbnails=False)
        ids = [i.id for i in store.items()]
        assert store.thumbnails(ids) == {}
        again = add_files(store, INFO, files)
        assert again.added == 0 and again.already_present == 2
        assert sorted(store.thumbnails(ids)) == ids


def test_cli_no_thumbnails_flag(tmp_path) -> None:
    write_scene(tmp_path / "a.jpg", 3)
    db = tmp_path / "r.sqlite"
    args = ["db", "add", str(tmp_path / "a.jpg"), "--db", str(db), "--label", "G", "--category"]
    result = CliRunner().invoke(cli, [*args, "game", "--no-thumbnails"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM thumbnails").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 1


def test_version_1_database_is_migrated_and_read_only_v1_has_no_previews(tmp_path) -> None:
    old = tmp_path / "old.sqlite"
    with open_store(old, create=True) as store:
        add_files(store, INFO, [write_scene(tmp_path / "a.jpg", 4)], thumbnails=False)
    # turn it back into a version-1 database, as an older provcheck left it
    conn = sqlite3.connect(old)
    conn.execute("DROP TABLE thumbnails")
    conn.execute("DROP TABLE features")  # and what later versions added
    conn.execute("DROP TABLE packs")
    conn.execute("ALTER TABLE sources DROP COLUMN pack_id")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with open_store(old, readonly=True) as store:
        assert store.thumbnails([1]) == {}  # no table, no error
    with open_store(old) as store:
        assert store.stats()["schema_version"] == SCHEMA_VERSION == len(MIGRATIONS)
        assert store.thumbnails([1]) == {}
        add_files(store, INFO, [tmp_path / "a.jpg"])
        assert list(store.thumbnails([1])) == [1]


def test_export_leaves_thumbnails_out_unless_asked_and_import_restores_them(tmp_path) -> None:
    with open_store(tmp_path / "a.sqlite", create=True) as store:
        add_files(store, INFO, [write_scene(tmp_path / f"f{i}.jpg", i) for i in range(2)])
        plain = list(export_lines(store))
        with_thumbs = list(export_lines(store, thumbnails=True))
    assert not any("thumbnail" in json.loads(line) for line in plain)
    items = [json.loads(line) for line in with_thumbs if '"type": "item"' in line]
    assert all(item["thumbnail"]["mime"] in MIME_TYPES for item in items)
    export = tmp_path / "refs.jsonl"
    export.write_text("\n".join(with_thumbs) + "\n", encoding="utf-8")
    with open_store(tmp_path / "b.sqlite", create=True) as store:
        report = import_file(store, export)
        assert report.items_added == 2
        thumbs = store.thumbnails([1, 2])
        assert sorted(thumbs) == [1, 2]
        assert max(_decoded(thumbs[1].data).size) == MAX_SIDE


def test_hostile_thumbnail_in_import_changes_nothing(tmp_path) -> None:
    with open_store(tmp_path / "a.sqlite", create=True) as store:
        add_files(store, INFO, [write_scene(tmp_path / "f.jpg", 5)])
        lines = [json.loads(line) for line in export_lines(store)]
    lines[-1]["thumbnail"] = {
        "mime": "text/html",
        "data": base64.b64encode(b"<script>alert(1)</script>").decode(),
    }
    export = tmp_path / "evil.jsonl"
    export.write_text("\n".join(json.dumps(r) for r in lines) + "\n", encoding="utf-8")
    with open_store(tmp_path / "b.sqlite", create=True) as store:
        with pytest.raises(FormatError, match=r"evil\.jsonl:3: thumbnail type"):
            import_file(store, export)
        assert store.items() == [] and store.sources() == []


@pytest.mark.parametrize("jobs", [1, 2])
def test_scan_carries_previews_of_matches_only_when_asked(tmp_path, jobs) -> None:
    from provcheck.matching.matcher import Matcher
    from provcheck.matching.references import ReferenceSet
    from provcheck.media.targets import Target
    from provcheck.services.scan import ScanOptions, scan_targets

    refs = [write_scene(tmp_path / f"ref{i}.jpg", i) for i in range(2)]
    others = [write_scene(tmp_path / f"other{i}.jpg", 100 + i) for i in range(3)]
    targets = [Target("file", str(p)) for p in [*refs, *others]]
    with open_store(tmp_path / "r.sqlite", create=True) as store:
        add_files(store, INFO, refs)
        matcher = Matcher([ReferenceSet(store, ("pdq", "phash"))])
        plain = scan_targets(targets, matcher, ScanOptions(jobs=jobs))
        shown = scan_targets(targets, matcher, ScanOptions(jobs=jobs, thumbnails=True))
    assert [r.status for r in shown] == ["match"] * 2 + ["clean"] * 3
    assert all(r.thumbnail is None for r in plain)
    assert all(r.thumbnail is not None for r in shown[:2])
    assert all(r.thumbnail is None for r in shown[2:])
    assert max(_decoded(shown[0].thumbnail.data).size) == MAX_SIDE
