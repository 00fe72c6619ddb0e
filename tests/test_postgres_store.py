"""What only the PostgreSQL store does: refuse foreign databases, least privilege, concurrent
writers that lose nothing, and a scanner's mirror synced incrementally."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from provcheck.errors import DatabaseError
from provcheck.signals.hashes import Hash
from provcheck.signals.keypoints import Features
from provcheck.store import NewItem, SourceInfo, StoredHash, open_store

psycopg = pytest.importorskip("psycopg")

GAME = SourceInfo("Wesnoth", "game")


def _hashes(seed: int) -> list[StoredHash]:
    rng = np.random.default_rng(seed)
    return [StoredHash(Hash("pdq", rng.bytes(32)), 90), StoredHash(Hash("phash", rng.bytes(8)))]


def _features(seed: int, n: int = 150) -> Features:
    rng = np.random.default_rng(seed)
    points = rng.random((n, 2)).astype(np.float32) * 300
    return Features(points, rng.integers(0, 256, (n, 32), dtype=np.uint8), 320, 240)


def _add(url: str, keys: range, label: str = "Wesnoth") -> list[int]:
    with open_store(url, create=True) as store, store.transaction():
        source, _ = store.ensure_source(SourceInfo(label, "game"))
        ids = []
        for k in keys:
            item, added = store.add_item(source, origin="/a", item_key=f"k{k}", hashes=_hashes(k))
            if added:
                store.put_features(item, _features(k))
            ids.append(item)
    return ids


# -- refusal -------------------------------------------------------------------------------------


def test_a_database_with_other_tables_is_refused_untouched(team_db):
    with psycopg.connect(team_db.owner, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id int)")
    with pytest.raises(DatabaseError, match=r"not a provcheck database .*public\.orders"):
        open_store(team_db.owner, create=True)
    with psycopg.connect(team_db.owner) as conn:
        assert (
            conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'provcheck'").fetchone()
            is None
        )


def test_a_foreign_schema_named_provcheck_is_refused(team_db):
    with psycopg.connect(team_db.owner, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA provcheck; CREATE TABLE provcheck.meta (key text, value text)")
    with pytest.raises(DatabaseError, match="belongs to another program"):
        open_store(team_db.owner, create=True)


def test_a_newer_schema_is_refused(team_db):
    _add(team_db.owner, range(1))
    with psycopg.connect(team_db.owner, autocommit=True) as conn:
        conn.execute("UPDATE provcheck.meta SET value = '99' WHERE key = 'version'")
    with pytest.raises(DatabaseError, match="newer provcheck"):
        open_store(team_db.scanner, readonly=True)


def test_an_empty_database_has_nothing_to_read(team_db):
    with pytest.raises(DatabaseError, match="no provcheck references in this database yet"):
        open_store(team_db.scanner, readonly=True)


def test_two_processes_creating_the_schema_at_once_create_it_once(team_db):
    errors: list[BaseException] = []

    def create() -> None:
        try:
            open_store(team_db.owner, create=True).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# -- roles and credentials -----------------------------------------------------------------------


def test_the_scanner_role_reads_but_cannot_write(team_db):
    _add(team_db.owner, range(3))
    with open_store(team_db.scanner, readonly=True) as store:
        assert store.counts() == {"items": 3, "sources": 1}
    with (
        open_store(team_db.scanner) as store,
        pytest.raises(DatabaseError, match="permission denied"),
    ):
        store.ensure_source(SourceInfo("Other", "game"))


def test_the_curator_writes_but_cannot_create_the_schema(team_db, postgres_cluster):
    with pytest.raises(DatabaseError, match="db init"):
        open_store(team_db.curator, create=True)
    _add(team_db.owner, range(1))
    assert len(_add(team_db.curator, range(1, 3))) == 2


def test_messages_never_show_the_password(team_db):
    wrong = team_db.url("provcheck_scanner").replace(
        team_db.passwords["provcheck_scanner"], "n0t-the-Secret"
    )
    with pytest.raises(DatabaseError) as caught:
        open_store(wrong, readonly=True)
    assert "n0t-the-Secret" not in str(caught.value)
    assert "password authentication failed" in str(caught.value)
    _add(team_db.owner, range(1))
    with open_store(team_db.scanner, readonly=True) as store:
        shown = f"{store.path} {store.path!r} {store.stats()}"
    assert team_db.passwords["provcheck_scanner"] not in shown


def test_pgpassword_supplies_the_password(team_db, monkeypatch):
    _add(team_db.owner, range(1))
    monkeypatch.setenv("PGPASSWORD", team_db.passwords["provcheck_scanner"])
    with open_store(team_db.url("provcheck_scanner", password=False), readonly=True) as store:
        assert store.counts()["items"] == 1


# -- concurrent writers --------------------------------------------------------------------------


def test_writers_racing_on_the_same_items_store_each_once(team_db):
    _add(team_db.owner, range(0))
    errors: list[BaseException] = []

    def write(offset: int) -> None:
        try:
            _add(team_db.curator, range(offset, offset + 40))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(o,)) for o in (0, 10, 20, 0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(team_db.owner) as conn:
        items, keys = conn.execute(
            "SELECT count(*), count(DISTINCT item_key) FROM provcheck.items"
        ).fetchone()
        hashes = conn.execute("SELECT count(*) FROM provcheck.hashes").fetchone()[0]
        open_batches = conn.execute(
            "SELECT count(*) FROM provcheck.batches WHERE seq IS NULL"
        ).fetchone()[0]
    assert items == keys == 60 and hashes == 120 and open_batches == 0


def test_a_failed_transaction_leaves_nothing(team_db):
    _add(team_db.owner, range(1))
    with open_store(team_db.curator) as store:
        with pytest.raises(RuntimeError), store.transaction():
            store.add_item(1, origin="/x", item_key="doomed", hashes=_hashes(9))
            raise RuntimeError("killed")
        assert store.count_items(1, "doomed") == 0
    with psycopg.connect(team_db.owner) as conn:
        assert conn.execute("SELECT count(*) FROM provcheck.batches").fetchone()[0] == 1


def test_bulk_add_skips_what_is_there(team_db):
    _add(team_db.owner, range(2))
    items = [NewItem(1, "/b", f"k{k}", _hashes(k)) for k in range(5)] + [
        NewItem(1, "/b", "k4", _hashes(4))
    ]
    with open_store(team_db.curator) as store, store.transaction():
        assert store.add_items_bulk(items, chunk=3) == (3, 3)
        assert store.counts()["items"] == 5


# -- the scanner's mirror ------------------------------------------------------------------------


def test_a_colleagues_reference_is_searchable_at_the_next_look(team_db):
    _add(team_db.owner, range(3))
    with open_store(team_db.scanner, readonly=True) as scanner:
        first = scanner.search_index("pdq")[0].item_ids.tolist()
        token = scanner.change_token()
        new = _add(team_db.curator, range(3, 5))
        assert scanner.change_token() != token
        arrays, index = scanner.search_index("pdq")
        assert arrays.item_ids.tolist() == first + new
        hits = index.query(np.asarray(arrays.codes)[-1], 0)
        assert arrays.item_ids[hits.rows].tolist() == [new[-1]]
        assert scanner.feature_item_ids().tolist() == first + new


def test_the_mirror_matches_a_fresh_read_after_adds_and_removals(team_db, tmp_path, monkeypatch):
    monkeypatch.setenv("PROVCHECK_CACHE_DIR", str(tmp_path / "mirrors"))
    ids = _add(team_db.owner, range(6))
    with open_store(team_db.scanner, readonly=True) as scanner:
        scanner.search_index("pdq")
        _add(team_db.curator, range(6, 9))
        with open_store(team_db.curator) as curator:
            curator.remove_item(ids[1])
        _add(team_db.curator, range(9, 12), label="Other")
        synced = scanner.search_index("pdq")[0]
        votes = scanner.keypoint_index().votes(_features(7).descriptors[:50], 0)
    monkeypatch.setenv("PROVCHECK_CACHE_DIR", str(tmp_path / "fresh"))
    with open_store(team_db.scanner, readonly=True) as fresh:
        whole = fresh.search_index("pdq")[0]
        assert fresh.keypoint_index().votes(_features(7).descriptors[:50], 0) == votes
    assert ids[1] not in synced.item_ids
    for name in ("hash_ids", "item_ids", "codes"):
        assert np.array_equal(getattr(synced, name), getattr(whole, name))
    assert [v.count for v in votes.values()] == [50]  # k7's own descriptors: only k7


def test_a_second_process_reads_the_mirror_from_disk(team_db):
    _add(team_db.owner, range(4))
    with open_store(team_db.scanner, readonly=True) as first:
        first.search_index("pdq")
    with open_store(team_db.scanner, readonly=True) as second:
        arrays, _ = second.search_index("pdq")
        assert isinstance(arrays.codes, np.memmap)
        assert len(arrays.item_ids) == 4
