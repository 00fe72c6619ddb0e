"""The SQLite backend's read side: sources, items with their provenance, hashes, keypoints and
previews, and the counts ``db stats`` shows. Reads never write, so a scan can open a database
read-only (the bundled pack, a shared copy on a read-only medium)."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from provcheck.errors import DatabaseError
from provcheck.signals.hashes import Hash
from provcheck.signals.keypoints import Features
from provcheck.signals.thumbnail import MIME_TYPES, Thumbnail
from provcheck.store.records import ItemRecord, Source, SourceInfo, StoredHash
from provcheck.store.sqlite.guard import GuardedConnection

#: Ids per ``IN (...)`` statement: SQLite caps a statement's parameters (999 in old builds).
_IN_CHUNK = 500


def _finite(value: Any) -> Any:
    """A stored number that is a real one, else None: a database made by hand may hold infinity
    or NaN where a time or a fraction belongs, and no scan or JSON output should choke on it."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class SqliteReads:
    """Queries over an open connection; the base of ``SqliteStore``."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, writable: bool) -> None:
        self._conn = GuardedConnection(conn, path)
        self.path = path
        self.writable = writable

    def _require_writable(self) -> None:
        if not self.writable:
            raise DatabaseError(f"{self.path}: opened read-only; cannot write to it")

    def _rows_in(self, sql: str, ids: Iterable[int]) -> Iterator[tuple[Any, ...]]:
        """Rows of ``sql`` (its ``{}`` is where the id list goes) for every id, asked 500 at a
        time: SQLite caps the parameters of one statement."""
        wanted = [int(i) for i in ids]
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            yield from self._conn.execute(sql.format(",".join("?" * len(chunk))), chunk)

    def _has_table(self, name: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    def find_source(self, label: str) -> Source | None:
        row = self._conn.execute(
            "SELECT id, label, category, url, first_seen, license, notes FROM sources"
            " WHERE label = ?",
            (label,),
        ).fetchone()
        return None if row is None else Source(row[0], SourceInfo.stored(*row[1:]))

    def count_items(self, source_id: int, item_key: str) -> int:
        """How many items of ``source_id`` have ``item_key`` (a video's frames share one key)."""
        row = self._conn.execute(
            "SELECT count(*) FROM items WHERE source_id = ? AND item_key = ?",
            (source_id, item_key),
        ).fetchone()
        return int(row[0])

    def next_frame_time(self, source_id: int, item_key: str, frame_time: float) -> float | None:
        """Time of the first frame stored after ``frame_time`` for the same video (same source and
        item key), or None after its last stored frame. Served by the ``items_identity`` index."""
        row = self._conn.execute(
            "SELECT min(IFNULL(frame_time, -1.0)) FROM items WHERE source_id = ? AND item_key = ?"
            " AND IFNULL(frame_time, -1.0) > ?",
            (source_id, item_key, frame_time),
        ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def items(
        self,
        ids: Iterable[int] | None = None,
        *,
        with_hashes: bool = False,
        source_id: int | None = None,
    ) -> list[ItemRecord]:
        """Items with provenance, by id (in the order asked), by source, or all of them."""
        base = (
            "SELECT i.id, i.source_id, i.origin, i.item_key, i.sha256, i.width, i.height,"
            " i.frame_time, s.label, s.category, s.url, s.first_seen, s.license, s.notes"
            " FROM items i JOIN sources s ON s.id = i.source_id"
        )
        if ids is not None:
            wanted = [int(i) for i in ids]
            by_id = {r[0]: r for r in self._rows_in(base + " WHERE i.id IN ({})", wanted)}
            rows = [by_id[i] for i in wanted if i in by_id]
        elif source_id is not None:
            rows = self._conn.execute(
                f"{base} WHERE i.source_id = ? ORDER BY i.id", (source_id,)
            ).fetchall()
        else:
            rows = self._conn.execute(f"{base} ORDER BY i.id").fetchall()
        records = [
            ItemRecord(*r[:7], _finite(r[7]), source=SourceInfo.stored(*r[8:14]))  # type: ignore[call-arg]
            for r in rows
        ]
        if with_hashes and records:
            by_item = self._hashes_by_item([r.id for r in records])
            for record in records:
                record.hashes.extend(by_item.get(record.id, []))
        return records

    def _hashes_by_item(self, item_ids: list[int]) -> dict[int, list[StoredHash]]:
        out: dict[int, list[StoredHash]] = {}
        sql = (
            "SELECT item_id, kind, bits, quality, rx, ry, rw, rh FROM hashes"
            " WHERE item_id IN ({}) ORDER BY id"
        )
        for item_id, kind, bits, quality, *region in self._rows_in(sql, item_ids):
            reg = None if any(_finite(v) is None for v in region) else tuple(region)
            out.setdefault(item_id, []).append(
                StoredHash(Hash(kind, bytes(bits)), quality, reg)  # type: ignore[arg-type]
            )
        return out

    def iter_items_with_hashes(self, batch: int = 2000) -> Iterator[ItemRecord]:
        """Every item with its hashes, in id order, a batch at a time (for export)."""
        last = 0
        while True:
            ids = [
                r[0]
                for r in self._conn.execute(
                    "SELECT id FROM items WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
                )
            ]
            if not ids:
                return
            yield from self.items(ids, with_hashes=True)
            last = ids[-1]

    def thumbnails(self, item_ids: Iterable[int]) -> dict[int, Thumbnail]:
        """Previews of the given items that have one. A database from before schema 2 opened
        read-only (the bundled pack may be one) has no thumbnail table, and so no previews."""
        if not self._has_table("thumbnails"):
            return {}
        out: dict[int, Thumbnail] = {}
        sql = "SELECT item_id, mime, data FROM thumbnails WHERE item_id IN ({})"
        for item_id, mime, data in self._rows_in(sql, item_ids):
            if mime in MIME_TYPES:  # never hand an unknown type on to a data: URI
                out[int(item_id)] = Thumbnail(mime, bytes(data))
        return out

    def features(self, item_ids: Iterable[int]) -> dict[int, Features]:
        """Keypoints of these items; items without any (hash-only imports) are left out."""
        if not self._has_table("features"):
            return {}
        sql = "SELECT item_id, data FROM features WHERE item_id IN ({})"
        return {
            int(item_id): Features.from_blob(bytes(blob))
            for item_id, blob in self._rows_in(sql, item_ids)
        }

    def feature_count(self) -> int:
        """How many items have keypoints."""
        if not self._has_table("features"):
            return 0
        return int(self._conn.execute("SELECT count(*) FROM features").fetchone()[0])

    def feature_item_ids(self) -> np.ndarray:
        """Ids of the items that have keypoints, sorted."""
        if not self._has_table("features"):
            return np.zeros(0, np.int64)
        rows = self._conn.execute("SELECT item_id FROM features ORDER BY item_id").fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def counts(self) -> dict[str, int]:
        """Items and sources only: what a scan's summary names, without ``stats``' per-category
        and per-kind passes over every row (a third of a second at a million items)."""
        q = self._conn.execute
        return {
            "items": int(q("SELECT count(*) FROM items").fetchone()[0]),
            "sources": int(q("SELECT count(*) FROM sources").fetchone()[0]),
        }

    def stats(self) -> dict[str, object]:
        q = self._conn.execute
        return {
            "path": str(self.path),
            "schema_version": int(q("PRAGMA user_version").fetchone()[0]),
            "sources": int(q("SELECT count(*) FROM sources").fetchone()[0]),
            "items": int(q("SELECT count(*) FROM items").fetchone()[0]),
            "video_frames": int(
                q("SELECT count(*) FROM items WHERE frame_time IS NOT NULL").fetchone()[0]
            ),
            "hashes": {
                k: int(n)
                for k, n in q("SELECT kind, count(*) FROM hashes GROUP BY kind ORDER BY kind")
            },
            "categories": {
                c: int(n)
                for c, n in q(
                    "SELECT s.category, count(i.id) FROM sources s LEFT JOIN items i"
                    " ON i.source_id = s.id GROUP BY s.category ORDER BY s.category"
                )
            },
            "bytes": self.path.stat().st_size if self.path.exists() else 0,
        }
