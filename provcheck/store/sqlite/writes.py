"""The SQLite backend's write side: sources, items, hashes, previews and keypoints, in
all-or-nothing transactions that also keep the packed search arrays current."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice

from provcheck.errors import DatabaseError, UsageError
from provcheck.signals.keypoints import Features
from provcheck.signals.thumbnail import MIME_TYPES, Thumbnail
from provcheck.store.records import NewItem, SourceInfo, StoredHash, provenance_updates
from provcheck.store.sqlite.packing import SqlitePacking

#: Page cache (KiB) for bulk imports; see ``SqliteWrites.add_items_bulk``.
BULK_CACHE_KIB = 512 * 1024


_INSERT_HASH = (
    "INSERT INTO hashes (item_id, kind, bits, quality, rx, ry, rw, rh)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _hash_rows(item_id: int, hashes: Iterable[StoredHash]) -> list[tuple[object, ...]]:
    return [
        (item_id, h.hash.kind, h.hash.bits, h.quality, *(h.region or (None,) * 4)) for h in hashes
    ]


class SqliteWrites(SqlitePacking):
    """Reads and packed arrays, plus every change; each change runs inside ``transaction``."""

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: an exception inside rolls every write back.

        A transaction that changed any hash also refreshes the packed search arrays before it
        commits, so readers (scans) never have to write and always find them current.
        """
        self._require_writable()
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            before = self.generation()
            yield
            if self.generation() != before:
                self._refresh_packed()
        except BaseException:
            if self._conn.in_transaction:  # SQLite may have rolled back already (a full disk)
                with contextlib.suppress(DatabaseError):
                    self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def ensure_source(self, info: SourceInfo) -> tuple[int, bool]:
        """The id of the source labelled ``info.label``, created if new. Returns (id, created).

        A label names one source. Re-adding with the same label fills in provenance that was
        missing, and refuses provenance that contradicts what is stored rather than rewrite history.
        """
        self._require_writable()
        existing = self.find_source(info.label)
        if existing is None:
            cur = self._conn.execute(
                "INSERT INTO sources (label, category, url, first_seen, license, notes, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    info.label,
                    info.category,
                    info.url,
                    info.first_seen,
                    info.license,
                    info.notes,
                    _now(),
                ),
            )
            return int(cur.lastrowid or 0), True
        for name, value in provenance_updates(existing.info, info).items():
            self._conn.execute(f"UPDATE sources SET {name} = ? WHERE id = ?", (value, existing.id))
        return existing.id, False

    def remove_source(self, source_id: int) -> int:
        """Delete a source and all its items; returns how many items went with it."""
        with self.transaction():
            n = self._conn.execute(
                "SELECT count(*) FROM items WHERE source_id = ?", (source_id,)
            ).fetchone()[0]
            cur = self._conn.execute("DELETE FROM sources WHERE id = ?", (source_id,))
            if cur.rowcount == 0:
                raise UsageError(f"no source with id {source_id} in {self.path}")
        return int(n)

    def add_item(
        self,
        source_id: int,
        *,
        origin: str,
        item_key: str,
        hashes: Sequence[StoredHash],
        sha256: str | None = None,
        width: int | None = None,
        height: int | None = None,
        frame_time: float | None = None,
    ) -> tuple[int, bool]:
        """Store an item with its hashes unless the source already holds it. Returns (id, added)."""
        self._require_writable()
        row = self._conn.execute(
            "SELECT id FROM items WHERE source_id = ? AND item_key = ?"
            " AND IFNULL(frame_time, -1.0) = IFNULL(?, -1.0)",
            (source_id, item_key, frame_time),
        ).fetchone()
        if row is not None:
            return int(row[0]), False
        cur = self._conn.execute(
            "INSERT INTO items (source_id, origin, item_key, sha256, width, height, frame_time,"
            " added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (source_id, origin, item_key, sha256, width, height, frame_time, _now()),
        )
        item_id = int(cur.lastrowid or 0)
        self._conn.executemany(_INSERT_HASH, _hash_rows(item_id, hashes))
        return item_id, True

    def add_items_bulk(self, items: Iterable[NewItem], chunk: int = 50_000) -> tuple[int, int]:
        """Store many items at once, skipping those already held. Returns (added, present).

        The fast path for imports: ``INSERT OR IGNORE`` on the ``items_identity`` unique index
        replaces a SELECT per row, and the ids of the rows that went in are read back in one query
        per chunk. Call it inside ``transaction()`` so a failure anywhere undoes every chunk.
        ``items`` may be a generator: only ``chunk`` items are held in memory at a time.
        """
        self._require_writable()
        if not self._conn.in_transaction:
            raise DatabaseError("internal error: add_items_bulk must run inside a transaction")
        added = present = 0
        iterator = iter(items)
        # Random item keys land all over the unique index: with SQLite's default 2 MB page cache a
        # million-row import spends most of its time re-reading index pages. Memory is only
        # taken as pages are used, and the setting is put back afterwards.
        cache_size = self._conn.execute("PRAGMA cache_size").fetchone()[0]
        self._conn.execute(f"PRAGMA cache_size = {-BULK_CACHE_KIB}")
        try:
            while batch := list(islice(iterator, chunk)):
                added_now, present_now = self._add_chunk(batch)
                added += added_now
                present += present_now
        finally:
            self._conn.execute(f"PRAGMA cache_size = {int(cache_size)}")
        return added, present

    def _add_chunk(self, batch: list[NewItem]) -> tuple[int, int]:
        # A file may name one item twice; the first occurrence wins, as with add_item.
        unique: dict[tuple[int, str, float], NewItem] = {}
        for item in batch:
            unique.setdefault(item.identity, item)
        last_id = self._conn.execute("SELECT IFNULL(max(id), 0) FROM items").fetchone()[0]
        now = _now()
        self._conn.executemany(
            "INSERT OR IGNORE INTO items (source_id, origin, item_key, sha256, width, height,"
            " frame_time, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (i.source_id, i.origin, i.item_key, i.sha256, i.width, i.height, i.frame_time, now)
                for i in unique.values()
            ],
        )
        # The write lock is ours (BEGIN IMMEDIATE), so every id above last_id came from this chunk.
        new_ids = {
            (source_id, item_key, frame_time): item_id
            for item_id, source_id, item_key, frame_time in self._conn.execute(
                "SELECT id, source_id, item_key, IFNULL(frame_time, -1.0) FROM items WHERE id > ?",
                (last_id,),
            )
        }
        self._conn.executemany(
            _INSERT_HASH,
            [
                row
                for key, item in unique.items()
                if (item_id := new_ids.get(key)) is not None
                for row in _hash_rows(item_id, item.hashes)
            ],
        )
        for key, item in unique.items():
            if item.thumbnail is not None and (item_id := new_ids.get(key)) is not None:
                self.put_thumbnail(item_id, item.thumbnail)
        return len(new_ids), len(batch) - len(new_ids)

    def remove_item(self, item_id: int) -> None:
        with self.transaction():
            cur = self._conn.execute("DELETE FROM items WHERE id = ?", (item_id,))
            if cur.rowcount == 0:
                raise UsageError(f"no item with id {item_id} in {self.path}")

    def put_thumbnail(self, item_id: int, thumbnail: Thumbnail) -> None:
        """Store ``item_id``'s preview unless it already has one (call inside a transaction)."""
        self._require_writable()
        if thumbnail.mime not in MIME_TYPES:
            raise ValueError(f"unsupported thumbnail type {thumbnail.mime!r}")
        self._conn.execute(
            "INSERT OR IGNORE INTO thumbnails (item_id, mime, data) VALUES (?, ?, ?)",
            (item_id, thumbnail.mime, thumbnail.data),
        )

    def put_features(self, item_id: int, features: Features) -> None:
        self._require_writable()
        self._conn.execute(
            "INSERT OR REPLACE INTO features (item_id, data) VALUES (?, ?)",
            (item_id, features.to_blob()),
        )
