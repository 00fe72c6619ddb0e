"""The reference database: provenance, idempotence, refusal of foreign files, search arrays.

Tests taking ``backend`` run once on a SQLite file and once on a PostgreSQL store."""

from __future__ import annotations

import sqlite3

import pytest

from provcheck.errors import DatabaseError, UsageError
from provcheck.signals.hashes import Hash
from provcheck.store import SourceInfo, StoredHash, open_store
from provcheck.store.sqlite.schema import SCHEMA_VERSION

GAME = SourceInfo("AC-130 Gunship Simulator", "game", "https://store.example/ac130", "2015-06-01")


def _hashes(seed: int) -> list[StoredHash]:
    return [
        StoredHash(Hash("pdq", bytes([seed]) * 32), 90),
        StoredHash(Hash("phash", bytes([seed]) * 8)),
    ]


def test_new_database_has_schema_and_is_wal(db_path):
    with open_store(db_path, create=True) as store:
        assert store.stats()["schema_version"] == SCHEMA_VERSION
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_missing_database_is_an_error_unless_created(db_path):
    with pytest.raises(DatabaseError, match="no such database"):
        open_store(db_path)


def test_add_item_is_idempotent_per_source_and_frame_time(backend):
    db_path = backend.location
    with open_store(db_path, create=True) as store, store.transaction():
        source, created = store.ensure_source(GAME)
        assert created
        first, added = store.add_item(source, origin="/a.jpg", item_key="k1", hashes=_hashes(1))
        again, added_again = store.add_item(
            source, origin="/b.jpg", item_key="k1", hashes=_hashes(1)
        )
        frame, frame_added = store.add_item(
            source, origin="/v.mp4", item_key="k1", frame_time=1.5, hashes=_hashes(1)
        )
        assert (added, added_again, frame_added) == (True, False, True)
        assert first == again != frame
        assert store.stats()["items"] == 2
        assert store.stats()["video_frames"] == 1


def test_source_label_fills_missing_provenance_but_refuses_contradictions(backend):
    db_path = backend.location
    with open_store(db_path, create=True) as store, store.transaction():
        sid, _ = store.ensure_source(SourceInfo("Clip", "footage"))
        same, created = store.ensure_source(SourceInfo("Clip", "footage", url="https://x.example"))
        assert same == sid and not created
        assert store.find_source("Clip").info.url == "https://x.example"
        with pytest.raises(UsageError, match="already has url"):
            store.ensure_source(SourceInfo("Clip", "footage", url="https://other.example"))
        with pytest.raises(UsageError, match="category"):
            store.ensure_source(SourceInfo("Clip", "game"))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("category", "movie", "category must be one of"),
        ("first_seen", "June 2015", "YYYY-MM-DD"),
        ("label", "  ", "non-empty"),
    ],
)
def test_source_info_validates(field, value, message):
    kwargs = {"label": "x", "category": "game", field: value}
    with pytest.raises(UsageError, match=message):
        SourceInfo(**kwargs)


def test_remove_source_cascades_to_items_and_hashes(backend):
    db_path = backend.location
    with open_store(db_path, create=True) as store:
        with store.transaction():
            sid, _ = store.ensure_source(GAME)
            store.add_item(sid, origin="/a", item_key="a", hashes=_hashes(1))
            store.add_item(sid, origin="/b", item_key="b", hashes=_hashes(2))
        assert store.remove_source(sid) == 2
        stats = store.stats()
        assert (stats["sources"], stats["items"], stats["hashes"]) == (0, 0, {})
        with pytest.raises(UsageError, match="no source"):
            store.remove_source(sid)
        with pytest.raises(UsageError, match="no item"):
            store.remove_item(999)


def test_search_arrays_follow_changes(backend):
    db_path = backend.location
    with open_store(db_path, create=True) as store:
        with store.transaction():
            sid, _ = store.ensure_source(GAME)
            a, _ = store.add_item(sid, origin="/a", item_key="a", hashes=_hashes(1))
        arrays = store.kind_arrays("pdq")
        assert arrays.item_ids.tolist() == [a]
        assert arrays.codes.shape == (1, 32)
        with store.transaction():
            b, _ = store.add_item(sid, origin="/b", item_key="b", hashes=_hashes(2))
        assert store.kind_arrays("pdq").item_ids.tolist() == [a, b]
        store.remove_item(a)
        assert store.kind_arrays("pdq").item_ids.tolist() == [b]
        assert store.kind_arrays("phash").codes.shape == (1, 8)


def test_failed_transaction_leaves_nothing_behind(backend):
    db_path = backend.location
    with open_store(db_path, create=True) as store:
        with pytest.raises(RuntimeError), store.transaction():
            sid, _ = store.ensure_source(GAME)
            store.add_item(sid, origin="/a", item_key="a", hashes=_hashes(1))
            raise RuntimeError("interrupted")
        assert store.stats()["items"] == 0 and store.stats()["sources"] == 0


def test_foreign_sqlite_file_is_refused_and_left_byte_identical(tmp_path):
    foreign = tmp_path / "other.sqlite"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('keep me')")
    conn.commit()
    conn.close()
    before = foreign.read_bytes()
    with pytest.raises(DatabaseError, match="not a provcheck database"):
        open_store(foreign, create=True)
    assert foreign.read_bytes() == before
    assert not (tmp_path / "other.sqlite-wal").exists()


def test_non_sqlite_file_is_refused_untouched(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("just some notes\n" * 100)
    before = text.read_bytes()
    with pytest.raises(DatabaseError, match="not a provcheck database"):
        open_store(text, create=True)
    assert text.read_bytes() == before


def test_newer_schema_is_refused(db_path):
    open_store(db_path, create=True).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="newer provcheck"):
        open_store(db_path)


def test_readonly_store_refuses_writes(backend):
    db_path = backend.location
    open_store(db_path, create=True).close()
    with (
        open_store(db_path, readonly=True) as store,
        pytest.raises(DatabaseError, match="read-only"),
    ):
        store.ensure_source(GAME)


def test_processes_creating_one_new_file_at_once_all_succeed(tmp_path):
    """Two ``db add`` starting together on a new file once failed with 'could not upgrade the
    schema (table meta already exists)': each read the version before taking the write lock."""
    import subprocess
    import sys

    path = tmp_path / "new.sqlite"
    code = (
        "import sys; from provcheck.store import open_store\n"
        "open_store(sys.argv[1], create=True).close()\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    outcomes = [(p.communicate()[1], p.returncode) for p in procs]
    assert [err for err, code in outcomes if code != 0] == []
