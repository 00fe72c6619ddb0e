"""The PostgreSQL backend's write side: sources, items, hashes, previews and keypoints, in
all-or-nothing transactions that several writers on several machines may run at once.

- Idempotent and race-free: every insert goes through a unique index with ``ON CONFLICT DO
  NOTHING``, so two curators adding the same file at once store it once (the second waits for the
  first to commit, then finds it there).
- Each change runs in a ``transaction`` (``provcheck.store.postgres.transactions``): all or
  nothing, and in commit order for the scanners' mirrors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from provcheck.errors import DatabaseError, UsageError
from provcheck.signals.keypoints import Features
from provcheck.signals.thumbnail import MIME_TYPES, Thumbnail
from provcheck.store.postgres.transactions import PostgresTransactions
from provcheck.store.records import SourceInfo, StoredHash, provenance_updates

IDENTITY = "(source_id, item_key, COALESCE(frame_time, -1.0))"
ITEM_COLUMNS = "source_id, origin, item_key, sha256, width, height, frame_time"
HASH_COLUMNS = "item_id, kind, bits, quality, rx, ry, rw, rh"


#: A new item and its hashes in one statement; nothing when the source already holds the item.
_ADD_ITEM = (
    f"WITH new AS (INSERT INTO items ({ITEM_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
    f" ON CONFLICT {IDENTITY} DO NOTHING RETURNING id),"
    f" stored AS (INSERT INTO hashes ({HASH_COLUMNS}) SELECT new.id, h.* FROM new,"
    " unnest(%s::text[], %s::bytea[], %s::integer[], %s::float8[], %s::float8[], %s::float8[],"
    " %s::float8[]) AS h)"
    " SELECT id FROM new"
)


def hash_rows(item_id: int, hashes: Iterable[StoredHash]) -> list[tuple[object, ...]]:
    return [
        (item_id, h.hash.kind, h.hash.bits, h.quality, *(h.region or (None,) * 4)) for h in hashes
    ]


class PostgresWrites(PostgresTransactions):
    """Reads, plus every change; each change runs inside ``transaction``."""

    _pending_features: list[tuple[int, bytes]]

    def ensure_source(self, info: SourceInfo) -> tuple[int, bool]:
        """The id of the source labelled ``info.label``, created if new. Returns (id, created).

        As on SQLite: re-adding fills in missing provenance and refuses contradicting provenance.
        The row is locked while it is compared, so two writers cannot both fill a field in.
        """
        with self._writing():
            created = self._db.scalar(
                "INSERT INTO sources (label, category, url, first_seen, license, notes)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (label) DO NOTHING RETURNING id",
                (info.label, info.category, info.url, info.first_seen, info.license, info.notes),
            )
            if created is not None:
                return int(created), True
            row = self._db.one(
                "SELECT id, label, category, url, first_seen, license, notes FROM sources"
                " WHERE label = %s FOR NO KEY UPDATE",
                (info.label,),
            )
            if row is None:  # removed between the two statements
                raise DatabaseError(f"{self._db.where}: source {info.label!r} was just removed")
            source_id = int(row[0])
            for name, value in provenance_updates(SourceInfo.stored(*row[1:]), info).items():
                self._db.execute(
                    f"UPDATE sources SET {name} = %s WHERE id = %s", (value, source_id)
                )
            return source_id, False

    def remove_source(self, source_id: int) -> int:
        """Delete a source and all its items; returns how many items went with it."""
        with self._writing():
            self._batch_id()  # the deleted items' tombstones carry this batch
            n = int(
                self._db.scalar("SELECT count(*) FROM items WHERE source_id = %s", (source_id,))
            )
            if self._db.execute("DELETE FROM sources WHERE id = %s", (source_id,)).rowcount == 0:
                raise UsageError(f"no source with id {source_id} in {self.path}")
        return n

    def remove_item(self, item_id: int) -> None:
        with self._writing():
            self._batch_id()
            if self._db.execute("DELETE FROM items WHERE id = %s", (item_id,)).rowcount == 0:
                raise UsageError(f"no item with id {item_id} in {self.path}")

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
        """Store an item with its hashes unless the source already holds it. Returns (id, added).

        One round trip for a new item: the item and its hashes go in one statement (a video's
        thousands of frames are as many statements, not three times as many)."""
        with self._writing():
            self._batch_id()
            rows = hash_rows(0, hashes)
            columns = [list(c) for c in zip(*rows, strict=True)][1:] if rows else [[]] * 7
            item_id = self._db.scalar(
                _ADD_ITEM,
                (source_id, origin, item_key, sha256, width, height, frame_time, *columns),
            )
            if item_id is None:
                present = self._db.scalar(
                    "SELECT id FROM items WHERE source_id = %s AND item_key = %s"
                    " AND COALESCE(frame_time, -1.0) = COALESCE(%s::float8, -1.0)",
                    (source_id, item_key, frame_time),
                )
                return int(present), False
            return int(item_id), True

    def put_thumbnail(self, item_id: int, thumbnail: Thumbnail) -> None:
        """Store ``item_id``'s preview unless it already has one."""
        if thumbnail.mime not in MIME_TYPES:
            raise ValueError(f"unsupported thumbnail type {thumbnail.mime!r}")
        with self._writing():
            self._db.execute(
                "INSERT INTO thumbnails (item_id, mime, data) VALUES (%s, %s, %s)"
                " ON CONFLICT (item_id) DO NOTHING",
                (item_id, thumbnail.mime, thumbnail.data),
            )

    def put_features(self, item_id: int, features: Features) -> None:
        """Queue ``item_id``'s keypoints; they are written, all at once, before the transaction
        commits (a round trip per item saved: a video writes thousands)."""
        with self._writing():
            self._batch_id()
            self._pending_features.append((item_id, features.to_blob()))

    def _drop_pending(self) -> None:
        self._pending_features = []

    def _flush_pending(self) -> None:
        if not self._pending_features:
            return
        rows = self._pending_features
        self._drop_pending()
        with self._db.errors():
            self._db.raw.cursor().executemany(
                "INSERT INTO features (item_id, data) VALUES (%s, %s) ON CONFLICT (item_id)"
                " DO UPDATE SET data = excluded.data, batch_id = excluded.batch_id",
                rows,
            )
