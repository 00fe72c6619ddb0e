"""The SQLite backend's write side: sources, items, hashes, previews and keypoints, in
all-or-nothing transactions that also keep the packed search arrays current."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from provcheck.errors import DatabaseError, UsageError
from provcheck.signals.keypoints import Features
from provcheck.signals.thumbnail import MIME_TYPES, Thumbnail
from provcheck.store.records import SourceInfo, StoredHash, provenance_updates
from provcheck.store.sqlite.packing import SqlitePacking

INSERT_HASH = (
    "INSERT INTO hashes (item_id, kind, bits, quality, rx, ry, rw, rh)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def hash_rows(item_id: int, hashes: Iterable[StoredHash]) -> list[tuple[object, ...]]:
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
                    now(),
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
            (source_id, origin, item_key, sha256, width, height, frame_time, now()),
        )
        item_id = int(cur.lastrowid or 0)
        self._conn.executemany(INSERT_HASH, hash_rows(item_id, hashes))
        return item_id, True

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
