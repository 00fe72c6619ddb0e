"""The SQLite backend's side of exchanging references: the bulk insert imports go through,
deletions inside the caller's transaction, the pack each source last came from, and the item
keys a pack update compares with. Split from ``writes`` and ``reads`` to keep each one job."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

from provcheck.errors import DatabaseError
from provcheck.store.records import NewItem, PackOrigin, Source, SourceInfo
from provcheck.store.sqlite.writes import INSERT_HASH, SqliteWrites, hash_rows, now

#: Page cache (KiB) for bulk imports; see ``SqliteExchange.add_items_bulk``.
BULK_CACHE_KIB = 512 * 1024


class SqliteExchange(SqliteWrites):
    """Writes, plus what imports, exports and pack updates need at scale."""

    def sources(self) -> list[Source]:
        """Every source with its item count and, where it came in a pack, the pack's origin. A
        database from before schema 4 opened read-only has no pack table: no origins."""
        packs = self._has_table("packs")
        pack_columns = (
            "p.location, p.sha256, p.signer, p.signed_at, p.name, p.imported_at"
            if packs
            else "NULL, NULL, NULL, NULL, NULL, NULL"
        )
        rows = self._conn.execute(
            "SELECT s.id, s.label, s.category, s.url, s.first_seen, s.license, s.notes,"
            f" (SELECT count(*) FROM items i WHERE i.source_id = s.id), {pack_columns}"
            " FROM sources s"
            + (" LEFT JOIN packs p ON p.id = s.pack_id" if packs else "")
            + " ORDER BY s.id"
        ).fetchall()
        return [
            Source(
                r[0],
                SourceInfo.stored(*r[1:7]),
                r[7],
                PackOrigin(*r[8:14]) if r[8] is not None else None,
            )
            for r in rows
        ]

    def item_keys(self, source_id: int) -> Iterator[tuple[int, str, float | None]]:
        """(id, item_key, frame_time) of every item of a source, in id order, without loading
        records: what a pack update compares with the pack's own items."""
        yield from self._conn.execute(
            "SELECT id, item_key, frame_time FROM items WHERE source_id = ? ORDER BY id",
            (source_id,),
        )

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
        at = now()
        self._conn.executemany(
            "INSERT OR IGNORE INTO items (source_id, origin, item_key, sha256, width, height,"
            " frame_time, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (i.source_id, i.origin, i.item_key, i.sha256, i.width, i.height, i.frame_time, at)
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
            INSERT_HASH,
            [
                row
                for key, item in unique.items()
                if (item_id := new_ids.get(key)) is not None
                for row in hash_rows(item_id, item.hashes)
            ],
        )
        self._conn.executemany(
            "INSERT OR REPLACE INTO features (item_id, data) VALUES (?, ?)",
            [
                (item_id, item.features.to_blob())
                for key, item in unique.items()
                if item.features is not None
                and len(item.features)
                and (item_id := new_ids.get(key)) is not None
            ],
        )
        for key, item in unique.items():
            if item.thumbnail is not None and (item_id := new_ids.get(key)) is not None:
                self.put_thumbnail(item_id, item.thumbnail)
        return len(new_ids), len(batch) - len(new_ids)

    def remove_items(self, item_ids: Iterable[int]) -> int:
        """Delete these items (their hashes, keypoints and previews go with them) inside the
        caller's transaction, so a pack update that prunes is all or nothing. Returns how many
        were there."""
        self._require_writable()
        if not self._conn.in_transaction:
            raise DatabaseError("internal error: remove_items must run inside a transaction")
        wanted = [int(i) for i in item_ids]
        removed = 0
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            cur = self._conn.execute(
                f"DELETE FROM items WHERE id IN ({','.join('?' * len(chunk))})", chunk
            )
            removed += cur.rowcount
        return removed

    def record_pack(self, source_ids: Iterable[int], origin: PackOrigin) -> None:
        """Remember that these sources last came from the pack ``origin`` (call inside the
        import's transaction)."""
        self._require_writable()
        cur = self._conn.execute(
            "INSERT INTO packs (location, sha256, signer, signed_at, name, imported_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                origin.location,
                origin.sha256,
                origin.signer,
                origin.signed_at,
                origin.name,
                origin.imported_at or now(),
            ),
        )
        self._conn.executemany(
            "UPDATE sources SET pack_id = ? WHERE id = ?",
            [(cur.lastrowid, int(i)) for i in source_ids],
        )
