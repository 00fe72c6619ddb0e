"""Ids belong to one database. The bundled pack and your own database both have a source 1, so
``db list`` says under which database each id is listed, ``db list --items ID`` refuses an id that
more than one searched database has (``--db`` names the one meant), and ``db remove`` names what
it removed and where from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from provcheck.cli import cli
from provcheck.signals.hashes import Hash
from provcheck.store import SourceInfo, StoredHash, bundled_pack_path, default_db_path, open_store


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def own_db(stills) -> Path:
    """Your own database (the default one, in the isolated user data folder) with one source."""
    added = run("db", "add", stills["wesnoth"], "--label", "My captures", "--category", "game")
    assert added.exit_code == 0, added.output
    assert default_db_path().exists()
    return default_db_path()


def test_a_source_id_in_two_databases_is_refused_and_the_fix_named(own_db):
    with open_store(bundled_pack_path(), readonly=True) as pack:
        assert 1 in {s.id for s in pack.sources()}  # so source 1 is in both
    listed = run("db", "list", "--items", 1)
    assert listed.exit_code == 2
    message = listed.output
    assert "source 1 is in 2 databases" in message
    assert str(bundled_pack_path()) in message and str(own_db) in message
    assert "--db" in message

    mine = run("db", "list", "--items", 1, "--db", own_db)
    assert mine.exit_code == 0
    assert mine.output.splitlines()[0] == (
        f"# items of source 1 in {own_db} (given; ids are this database's)"
    )
    assert "wesnoth.jpg" in mine.output


def test_an_id_only_one_database_has_needs_no_db(own_db):
    with open_store(bundled_pack_path(), readonly=True) as pack:
        only_in_pack = max(s.id for s in pack.sources())
    assert only_in_pack > 1
    listed = run("db", "list", "--items", only_in_pack)
    assert listed.exit_code == 0, listed.output
    assert listed.output.startswith(f"# items of source {only_in_pack} in {bundled_pack_path()}")
    assert str(own_db) not in listed.output
    missing = run("db", "list", "--items", 999)
    assert missing.exit_code == 2 and "no source 999 in" in missing.output


def test_every_listing_says_which_database_its_ids_belong_to(own_db):
    lines = run("db", "list").output.splitlines()
    headers = [line for line in lines if line.startswith("#")]
    assert headers == [
        f"# sources in {bundled_pack_path()} (bundled; ids are this database's)",
        f"# sources in {own_db} (user; ids are this database's)",
    ]


@pytest.fixture
def video_db(db_path) -> tuple[Path, int, int]:
    """A database with one still and one video frame; their ids."""
    hashes = [StoredHash(Hash("pdq", bytes([7]) * 32), 90), StoredHash(Hash("phash", b"\x07" * 8))]
    with open_store(db_path, create=True) as store, store.transaction():
        source, _ = store.ensure_source(SourceInfo("Strike footage", "footage"))
        still, _ = store.add_item(source, origin="/a/still.jpg", item_key="a", hashes=hashes)
        frame, _ = store.add_item(
            source, origin="/a/clip.mp4", item_key="b", hashes=hashes, frame_time=83.4
        )
    return db_path, still, frame


def test_removing_an_item_names_what_was_removed(video_db):
    path, still, frame = video_db
    removed = run("db", "remove", "--item", frame, "--db", path)
    assert removed.exit_code == 0
    assert removed.output.strip() == (
        f"removed item {frame} from {path}: 'Strike footage' (footage), origin /a/clip.mp4,"
        " frame at 00:01:23.4"
    )
    removed = run("db", "remove", "--item", still, "--db", path)
    assert removed.output.strip().endswith("'Strike footage' (footage), origin /a/still.jpg")
    again = run("db", "remove", "--item", still, "--db", path)
    assert again.exit_code == 2
    assert f"no item with id {still} in {path}" in again.output


def test_removing_a_source_by_id_names_it(video_db):
    path, _, _ = video_db
    removed = run("db", "remove", "--source", 1, "--db", path)
    assert removed.exit_code == 0
    assert removed.output.strip() == (
        f"removed source 1 'Strike footage' (footage) and its 2 items from {path}"
    )
    again = run("db", "remove", "--source", 1, "--db", path)
    assert again.exit_code == 2
    assert re.search(r"no source '1' \(a label or an id\) in", again.output)
