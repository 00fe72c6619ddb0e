"""The PostgreSQL backend's read side: sources, items with their provenance, hashes, keypoints
and previews, and the counts ``db stats`` shows. The same answers as the SQLite backend's
(``provcheck.store.sqlite.reads``), in the same order."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from provcheck.errors import DatabaseError
from provcheck.signals.hashes import Hash
from provcheck.signals.keypoints import Features
from provcheck.signals.thumbnail import MIME_TYPES, Thumbnail
from provcheck.store.postgres.connection import Connection
from provcheck.store.records import ItemRecord, Region, Source, SourceInfo, StoredHash
from provcheck.store.server_url import ServerURL

_ITEMS = (
    "SELECT i.id, i.source_id, i.origin, i.item_key, i.sha256, i.width, i.height,"
    " i.frame_time, s.label, s.category, s.url, s.first_seen, s.license, s.notes"
    " FROM items i JOIN sources s ON s.id = i.source_id"
)


def _ids(values: Iterable[int]) -> list[int]:
    return [int(v) for v in values]


def region_of(row: tuple[object, ...]) -> Region | None:
    """The (x, y, w, h) region of a hash row's last four columns; None = the whole item."""
    return None if row[0] is None else tuple(float(v) for v in row)  # type: ignore[return-value, arg-type]


class PostgresReads:
    """Queries over an open connection; the base of ``PostgresStore``."""

    def __init__(
        self, conn: Connection, location: ServerURL, store_id: str, *, writable: bool
    ) -> None:
        self._db = conn
        #: The database, shown without secrets (``str()`` of it is the display form).
        self.path = location
        self.location = location
        self.store_id = store_id
        self.writable = writable
        self._pending_features: list[tuple[int, bytes]] = []

    def _require_writable(self) -> None:
        if not self.writable:
            raise DatabaseError(f"{self._db.where}: opened read-only; cannot write to it")

    def find_source(self, label: str) -> Source | None:
        row = self._db.one(
            "SELECT id, label, category, url, first_seen, license, notes FROM sources"
            " WHERE label = %s",
            (label,),
        )
        return None if row is None else Source(int(row[0]), SourceInfo.stored(*row[1:]))

    def count_items(self, source_id: int, item_key: str) -> int:
        """How many items of ``source_id`` have ``item_key`` (a video's frames share one key)."""
        return int(
            self._db.scalar(
                "SELECT count(*) FROM items WHERE source_id = %s AND item_key = %s",
                (source_id, item_key),
            )
        )

    def next_frame_time(self, source_id: int, item_key: str, frame_time: float) -> float | None:
        """Time of the first frame stored after ``frame_time`` for the same video, or None."""
        value = self._db.scalar(
            "SELECT min(COALESCE(frame_time, -1.0)) FROM items"
            " WHERE source_id = %s AND item_key = %s AND COALESCE(frame_time, -1.0) > %s",
            (source_id, item_key, frame_time),
        )
        return None if value is None else float(value)

    def items(
        self,
        ids: Iterable[int] | None = None,
        *,
        with_hashes: bool = False,
        source_id: int | None = None,
    ) -> list[ItemRecord]:
        """Items with provenance, by id (in the order asked), by source, or all of them."""
        if ids is not None:
            wanted = _ids(ids)
            by_id = {r[0]: r for r in self._db.all(f"{_ITEMS} WHERE i.id = ANY(%s)", (wanted,))}
            rows = [by_id[i] for i in wanted if i in by_id]
        elif source_id is not None:
            rows = self._db.all(f"{_ITEMS} WHERE i.source_id = %s ORDER BY i.id", (source_id,))
        else:
            rows = self._db.all(f"{_ITEMS} ORDER BY i.id")
        records = [ItemRecord(*r[:8], source=SourceInfo.stored(*r[8:14])) for r in rows]  # type: ignore[call-arg]
        if with_hashes and records:
            by_item = self._hashes_by_item([r.id for r in records])
            for record in records:
                record.hashes.extend(by_item.get(record.id, []))
        return records

    def _hashes_by_item(self, item_ids: list[int]) -> dict[int, list[StoredHash]]:
        out: dict[int, list[StoredHash]] = {}
        for item_id, kind, bits, quality, *region in self._db.all(
            "SELECT item_id, kind, bits, quality, rx, ry, rw, rh FROM hashes"
            " WHERE item_id = ANY(%s) ORDER BY id",
            (item_ids,),
        ):
            stored = StoredHash(Hash(kind, bytes(bits)), quality, region_of(tuple(region)))
            out.setdefault(int(item_id), []).append(stored)
        return out

    def iter_items_with_hashes(self, batch: int = 2000) -> Iterator[ItemRecord]:
        """Every item with its hashes, in id order, a batch at a time (for export)."""
        last = 0
        while True:
            ids = [
                int(r[0])
                for r in self._db.all(
                    "SELECT id FROM items WHERE id > %s ORDER BY id LIMIT %s", (last, batch)
                )
            ]
            if not ids:
                return
            yield from self.items(ids, with_hashes=True)
            last = ids[-1]

    def thumbnails(self, item_ids: Iterable[int]) -> dict[int, Thumbnail]:
        """Previews of the given items that have one."""
        rows = self._db.all(
            "SELECT item_id, mime, data FROM thumbnails WHERE item_id = ANY(%s)", (_ids(item_ids),)
        )
        # Never hand an unknown type on to a data: URI.
        return {int(i): Thumbnail(m, bytes(d)) for i, m, d in rows if m in MIME_TYPES}

    def features(self, item_ids: Iterable[int]) -> dict[int, Features]:
        """Keypoints of these items; items without any (hash-only imports) are left out."""
        rows = self._db.all(
            "SELECT item_id, data FROM features WHERE item_id = ANY(%s)", (_ids(item_ids),)
        )
        return {int(i): Features.from_blob(bytes(blob)) for i, blob in rows}

    def feature_count(self) -> int:
        """How many items have keypoints."""
        return int(self._db.scalar("SELECT count(*) FROM features"))

    def feature_item_ids(self) -> np.ndarray:
        """Ids of the items that have keypoints, sorted."""
        rows = self._db.all("SELECT item_id FROM features ORDER BY item_id")
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def counts(self) -> dict[str, int]:
        """Items and sources only: what a scan's summary names."""
        return {
            "items": int(self._db.scalar("SELECT count(*) FROM items")),
            "sources": int(self._db.scalar("SELECT count(*) FROM sources")),
        }

    def stats(self) -> dict[str, object]:
        db = self._db
        return {
            "path": str(self.location),
            "schema_version": int(db.scalar("SELECT value FROM meta WHERE key = 'version'")),
            "sources": int(db.scalar("SELECT count(*) FROM sources")),
            "items": int(db.scalar("SELECT count(*) FROM items")),
            "video_frames": int(
                db.scalar("SELECT count(*) FROM items WHERE frame_time IS NOT NULL")
            ),
            "hashes": {
                str(k): int(n)
                for k, n in db.all("SELECT kind, count(*) FROM hashes GROUP BY kind ORDER BY kind")
            },
            "categories": {
                str(c): int(n)
                for c, n in db.all(
                    "SELECT s.category, count(i.id) FROM sources s LEFT JOIN items i"
                    " ON i.source_id = s.id GROUP BY s.category ORDER BY s.category"
                )
            },
            "bytes": int(
                db.scalar(
                    "SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = 'provcheck' AND c.relkind = 'r'"
                )
            ),
        }
