"""The open reference database: reads and writes of sources, items, hashes, previews and
keypoints, in all-or-nothing transactions that also keep the packed search arrays current.

SQLite in WAL mode is the single source of truth.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from provcheck.errors import DatabaseError, UsageError
from provcheck.features import RETRIEVAL_FEATURES, Features
from provcheck.fingerprint import Hash, get_hasher
from provcheck.index import wants_multi_index
from provcheck.store.records import (
    ItemRecord,
    KindArrays,
    NewItem,
    Region,
    Source,
    SourceInfo,
    StoredHash,
)
from provcheck.thumbnail import MIME_TYPES, Thumbnail

#: The `packed` kind (and sidecar name) holding every item's retrieval keypoints (see
#: provcheck.features), named by how many of each item's keypoints it holds: a blob or sidecar
#: written with another count is then never read as current.
FEATURE_KIND = f"orb{RETRIEVAL_FEATURES}"
#: Names that kind had before (64 keypoints per item): their sidecar files are removed once the
#: current one is written.
LEGACY_FEATURE_KINDS = ("orb",)
#: Items with keypoints up to which their retrieval descriptors are also packed in SQLite (one
#: blob, rewritten at every change). Larger databases keep them in the memory-mapped keypoint
#: sidecar (provcheck.arraycache), built once per database change.
PACKED_FEATURE_ITEMS = 10_000


def _row_bytes(kind: str) -> int:
    return 32 if kind == FEATURE_KIND else get_hasher(kind).bits // 8


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


#: Page cache (KiB) for bulk imports; see ``Store.add_items_bulk``.
BULK_CACHE_KIB = 512 * 1024


#: Ids per ``IN (...)`` statement: SQLite caps a statement's parameters (999 in old builds).
_IN_CHUNK = 500


class Store:
    """An open reference database. Use ``open_store``; close it (or use ``with``) when done."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, writable: bool) -> None:
        self._conn = conn
        self.path = path
        self.writable = writable

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    # -- transactions ---------------------------------------------------------------------------

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
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _require_writable(self) -> None:
        if not self.writable:
            raise DatabaseError(f"{self.path}: opened read-only; cannot write to it")

    # -- sources -------------------------------------------------------------------------------

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
        old = existing.info
        if old.category != info.category:
            raise UsageError(
                f"source {info.label!r} is already in the database as category {old.category!r};"
                " use that category or another label"
            )
        updates: dict[str, str] = {}
        for name in ("url", "first_seen", "license", "notes"):
            new_value, old_value = getattr(info, name), getattr(old, name)
            if new_value is None or new_value == old_value:
                continue
            if old_value is not None:
                raise UsageError(
                    f"source {info.label!r} already has {name.replace('_', '-')} {old_value!r};"
                    f" refusing to change it to {new_value!r} (use another label)"
                )
            updates[name] = new_value
        for name, value in updates.items():
            self._conn.execute(f"UPDATE sources SET {name} = ? WHERE id = ?", (value, existing.id))
        return existing.id, False

    def find_source(self, label: str) -> Source | None:
        row = self._conn.execute(
            "SELECT id, label, category, url, first_seen, license, notes FROM sources"
            " WHERE label = ?",
            (label,),
        ).fetchone()
        return None if row is None else Source(row[0], SourceInfo(*row[1:]))

    def sources(self) -> list[Source]:
        rows = self._conn.execute(
            "SELECT s.id, s.label, s.category, s.url, s.first_seen, s.license, s.notes,"
            " (SELECT count(*) FROM items i WHERE i.source_id = s.id)"
            " FROM sources s ORDER BY s.id"
        ).fetchall()
        return [Source(r[0], SourceInfo(*r[1:7]), r[7]) for r in rows]

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

    # -- items ---------------------------------------------------------------------------------

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
        self._conn.executemany(
            "INSERT INTO hashes (item_id, kind, bits, quality, rx, ry, rw, rh)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (item_id, h.hash.kind, h.hash.bits, h.quality, *(h.region or (None,) * 4))
                for h in hashes
            ],
        )
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
            "INSERT INTO hashes (item_id, kind, bits, quality, rx, ry, rw, rh)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (item_id, h.hash.kind, h.hash.bits, h.quality, *(h.region or (None,) * 4))
                for key, item in unique.items()
                if (item_id := new_ids.get(key)) is not None
                for h in item.hashes
            ],
        )
        for key, item in unique.items():
            if item.thumbnail is not None and (item_id := new_ids.get(key)) is not None:
                self.put_thumbnail(item_id, item.thumbnail)
        return len(new_ids), len(batch) - len(new_ids)

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

    def remove_item(self, item_id: int) -> None:
        with self.transaction():
            cur = self._conn.execute("DELETE FROM items WHERE id = ?", (item_id,))
            if cur.rowcount == 0:
                raise UsageError(f"no item with id {item_id} in {self.path}")

    def _rows_in(self, sql: str, ids: Iterable[int]) -> Iterator[tuple[Any, ...]]:
        """Rows of ``sql`` (its ``{}`` is where the id list goes) for every id, asked 500 at a
        time: SQLite caps the parameters of one statement."""
        wanted = [int(i) for i in ids]
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            yield from self._conn.execute(sql.format(",".join("?" * len(chunk))), chunk)

    # -- thumbnails ----------------------------------------------------------------------------

    def put_thumbnail(self, item_id: int, thumbnail: Thumbnail) -> None:
        """Store ``item_id``'s preview unless it already has one (call inside a transaction)."""
        self._require_writable()
        if thumbnail.mime not in MIME_TYPES:
            raise ValueError(f"unsupported thumbnail type {thumbnail.mime!r}")
        self._conn.execute(
            "INSERT OR IGNORE INTO thumbnails (item_id, mime, data) VALUES (?, ?, ?)",
            (item_id, thumbnail.mime, thumbnail.data),
        )

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

    # -- local features ------------------------------------------------------------------------

    def put_features(self, item_id: int, features: Features) -> None:
        self._require_writable()
        self._conn.execute(
            "INSERT OR REPLACE INTO features (item_id, data) VALUES (?, ?)",
            (item_id, features.to_blob()),
        )

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

    def _pack_features(self) -> KindArrays:
        """The strongest keypoints of every item, one row per descriptor, for retrieval."""
        item_ids: list[np.ndarray] = []
        codes: list[np.ndarray] = []
        if self._has_table("features"):
            for item_id, blob in self._conn.execute(
                "SELECT item_id, data FROM features ORDER BY item_id"
            ):
                desc = Features.from_blob(bytes(blob)).descriptors[:RETRIEVAL_FEATURES]
                item_ids.append(np.full(len(desc), item_id, dtype=np.int64))
                codes.append(desc)
        ids = np.concatenate(item_ids) if item_ids else np.zeros(0, np.int64)
        packed = np.concatenate(codes) if codes else np.zeros((0, 32), np.uint8)
        return KindArrays(FEATURE_KIND, ids, ids, np.ascontiguousarray(packed))

    def _has_table(self, name: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

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
            ItemRecord(*r[:8], source=SourceInfo(*r[8:14]))  # type: ignore[call-arg]
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
            reg = None if region[0] is None else tuple(region)
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

    # -- search arrays -------------------------------------------------------------------------

    def generation(self) -> int:
        return int(
            self._conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]
        )

    def content_key(self) -> dict[str, object]:
        """What identifies the current set of hashes, for caches kept outside the database.

        ``generation`` moves on with every hash inserted or deleted (schema triggers); the last
        hash row tells apart two copies of one database that have since had different additions.
        """
        row = self._conn.execute(
            "SELECT id, kind, hex(bits) FROM hashes WHERE id = (SELECT max(id) FROM hashes)"
        ).fetchone()
        return {"generation": self.generation(), "last_hash": list(row) if row else None}

    def hash_count(self, kind: str) -> int:
        """How many hashes of ``kind`` the database holds (read from the ``hashes_kind_item``
        index, without touching the rows)."""
        return int(
            self._conn.execute("SELECT count(*) FROM hashes WHERE kind = ?", (kind,)).fetchone()[0]
        )

    def kind_arrays(self, kind: str) -> KindArrays:
        """The packed search arrays for ``kind``: one blob read when fresh, rebuilt when stale.

        ``kind`` is a hash kind, or ``FEATURE_KIND`` for the retrieval keypoints of every item.
        """
        nbytes = _row_bytes(kind)
        generation = self.generation()
        row = self._conn.execute(
            "SELECT generation, hash_ids, item_ids, codes FROM packed WHERE kind = ?", (kind,)
        ).fetchone()
        if row is not None and row[0] == generation:
            return KindArrays(
                kind,
                np.frombuffer(row[1], dtype="<i8"),
                np.frombuffer(row[2], dtype="<i8"),
                np.frombuffer(row[3], dtype=np.uint8).reshape(-1, nbytes),
            )
        # Stale (written by something that did not refresh): rebuild in memory, write nothing.
        return self._pack(kind, nbytes)

    def _refresh_packed(self) -> None:
        generation = self.generation()
        kinds = [r[0] for r in self._conn.execute("SELECT DISTINCT kind FROM hashes")]
        if self._has_table("features") and self.feature_count() <= PACKED_FEATURE_ITEMS:
            kinds.append(FEATURE_KIND)  # larger: read once into the sidecar, so not packed
        self._conn.execute("DELETE FROM packed")
        for kind in kinds:
            if kind != FEATURE_KIND and wants_multi_index(self.hash_count(kind), _row_bytes(kind)):
                continue  # large: arraycache keeps memory-mapped sidecars; no blob to rewrite
            arrays = self._pack(kind, _row_bytes(kind))
            self._conn.execute(
                "INSERT INTO packed (kind, generation, hash_ids, item_ids, codes)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    kind,
                    generation,
                    arrays.hash_ids.astype("<i8").tobytes(),
                    arrays.item_ids.astype("<i8").tobytes(),
                    arrays.codes.tobytes(),
                ),
            )

    def _pack(self, kind: str, nbytes: int) -> KindArrays:
        if kind == FEATURE_KIND:
            return self._pack_features()
        rows = self._conn.execute(
            "SELECT id, item_id, bits FROM hashes WHERE kind = ? ORDER BY item_id, id", (kind,)
        ).fetchall()
        hash_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        item_ids = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        codes = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.uint8).reshape(-1, nbytes)
        return KindArrays(kind, hash_ids, item_ids, codes)

    def hash_regions(self, hash_ids: Sequence[int]) -> dict[int, Region | None]:
        out: dict[int, Region | None] = {}
        sql = "SELECT id, rx, ry, rw, rh FROM hashes WHERE id IN ({})"
        for hid, *region in self._rows_in(sql, hash_ids):
            out[hid] = None if region[0] is None else tuple(region)  # type: ignore[assignment]
        return out

    # -- statistics ----------------------------------------------------------------------------

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
