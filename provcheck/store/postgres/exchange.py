"""The PostgreSQL backend's side of exchanging references: the bulk insert imports go through,
deletions inside the caller's transaction, the pack each source last came from, and the item
keys a pack update compares with (as ``provcheck.store.sqlite.exchange`` for SQLite)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice

from provcheck.errors import DatabaseError
from provcheck.store.postgres.writes import (
    HASH_COLUMNS,
    IDENTITY,
    ITEM_COLUMNS,
    PostgresWrites,
    hash_rows,
)
from provcheck.store.records import NewItem, PackOrigin, Source, SourceInfo


class PostgresExchange(PostgresWrites):
    """Writes, plus what imports, exports and pack updates need at scale."""

    def sources(self) -> list[Source]:
        """Every source with its item count and, where it came in a pack, the pack's origin."""
        rows = self._db.all(
            "SELECT s.id, s.label, s.category, s.url, s.first_seen, s.license, s.notes,"
            " (SELECT count(*) FROM items i WHERE i.source_id = s.id),"
            " p.location, p.sha256, p.signer, p.signed_at, p.name, p.imported_at"
            " FROM sources s LEFT JOIN packs p ON p.id = s.pack_id ORDER BY s.id"
        )
        return [
            Source(
                int(r[0]),
                SourceInfo.stored(*r[1:7]),
                int(r[7]),
                PackOrigin(*r[8:14]) if r[8] is not None else None,
            )
            for r in rows
        ]

    def item_keys(self, source_id: int) -> Iterator[tuple[int, str, float | None]]:
        """(id, item_key, frame_time) of every item of a source, in id order."""
        for item_id, key, frame_time in self._db.all(
            "SELECT id, item_key, frame_time FROM items WHERE source_id = %s ORDER BY id",
            (source_id,),
        ):
            yield int(item_id), str(key), frame_time

    def add_items_bulk(self, items: Iterable[NewItem], chunk: int = 50_000) -> tuple[int, int]:
        """Store many items at once, skipping those already held. Returns (added, present).

        One ``INSERT ... SELECT FROM unnest`` per chunk (the rows that went in come back from
        ``RETURNING``), then the new items' hashes, keypoints and previews by ``COPY``. Call it
        inside ``transaction()`` so a failure anywhere undoes every chunk.
        """
        self._require_writable()
        if not self._in_tx:
            raise DatabaseError("internal error: add_items_bulk must run inside a transaction")
        self._batch_id()
        added = present = 0
        iterator = iter(items)
        while batch := list(islice(iterator, chunk)):
            new = self._add_chunk(batch)
            added += new
            present += len(batch) - new
        return added, present

    def _add_chunk(self, batch: list[NewItem]) -> int:
        unique: dict[tuple[int, str, float], NewItem] = {}
        for item in batch:
            unique.setdefault(item.identity, item)  # the first occurrence wins, as in add_item
        columns = list(
            zip(
                *(
                    (i.source_id, i.origin, i.item_key, i.sha256, i.width, i.height, i.frame_time)
                    for i in unique.values()
                ),
                strict=True,
            )
        )
        rows = self._db.all(
            f"INSERT INTO items ({ITEM_COLUMNS}) SELECT * FROM unnest(%s::bigint[], %s::text[],"
            " %s::text[], %s::text[], %s::integer[], %s::integer[], %s::float8[])"
            f" ON CONFLICT {IDENTITY} DO NOTHING"
            " RETURNING id, source_id, item_key, COALESCE(frame_time, -1.0)",
            [list(c) for c in columns],
        )
        new_ids = {(int(s), str(k), float(t)): int(i) for i, s, k, t in rows}
        with self._db.errors():
            cursor = self._db.raw.cursor()
            with cursor.copy(f"COPY hashes ({HASH_COLUMNS}) FROM STDIN") as copy:
                for key, item in unique.items():
                    if (item_id := new_ids.get(key)) is not None:
                        for row in hash_rows(item_id, item.hashes):
                            copy.write_row(row)
            features = [
                (item_id, item.features.to_blob())
                for key, item in unique.items()
                if item.features is not None
                and len(item.features)
                and (item_id := new_ids.get(key)) is not None
            ]
            if features:
                with cursor.copy("COPY features (item_id, data) FROM STDIN") as copy:
                    for row in features:
                        copy.write_row(row)
            thumbs = [
                (item_id, item.thumbnail.mime, item.thumbnail.data)
                for key, item in unique.items()
                if item.thumbnail is not None and (item_id := new_ids.get(key)) is not None
            ]
            if thumbs:
                with cursor.copy("COPY thumbnails (item_id, mime, data) FROM STDIN") as copy:
                    for row in thumbs:
                        copy.write_row(row)
        return len(new_ids)

    def remove_items(self, item_ids: Iterable[int]) -> int:
        """Delete these items inside the caller's transaction (a pack update that prunes is all
        or nothing). Returns how many were there."""
        self._require_writable()
        if not self._in_tx:
            raise DatabaseError("internal error: remove_items must run inside a transaction")
        self._batch_id()  # their tombstones carry this batch
        wanted = [int(i) for i in item_ids]
        return int(self._db.execute("DELETE FROM items WHERE id = ANY(%s)", (wanted,)).rowcount)

    def record_pack(self, source_ids: Iterable[int], origin: PackOrigin) -> None:
        """Remember that these sources last came from the pack ``origin`` (call inside the
        import's transaction)."""
        with self._writing():
            imported_at = origin.imported_at or datetime.now(UTC).isoformat(timespec="seconds")
            pack_id = self._db.scalar(
                "INSERT INTO packs (location, sha256, signer, signed_at, name, imported_at)"
                " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    origin.location,
                    origin.sha256,
                    origin.signer,
                    origin.signed_at,
                    origin.name,
                    imported_at,
                ),
            )
            self._db.execute(
                "UPDATE sources SET pack_id = %s WHERE id = ANY(%s)",
                (pack_id, [int(i) for i in source_ids]),
            )
