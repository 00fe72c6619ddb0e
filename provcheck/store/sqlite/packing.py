"""The SQLite backend's packed search arrays: one blob per hash kind (and one for the retrieval
keypoints), derived from the rows and rebuilt inside every writing transaction, so a scan reads a
row instead of parsing one row per reference and never has to write.

Large databases keep no blob: their arrays live in memory-mapped sidecars (``store.sidecars``).
"""

from __future__ import annotations

import numpy as np

from provcheck.search.hash_index import HammingIndex, wants_multi_index
from provcheck.search.keypoint_index import KeypointIndex
from provcheck.signals.hashes import get_hasher
from provcheck.signals.keypoints import RETRIEVAL_FEATURES, Features
from provcheck.store.records import FEATURE_KIND, KindArrays
from provcheck.store.sidecars import load_keypoints, load_search
from provcheck.store.sqlite.reads import SqliteReads

#: Items with keypoints up to which their retrieval descriptors are also packed in SQLite (one
#: blob, rewritten at every change). Larger databases keep them in the memory-mapped keypoint
#: sidecar (provcheck.store.sidecars), built once per database change.
PACKED_FEATURE_ITEMS = 10_000


def _row_bytes(kind: str) -> int:
    return 32 if kind == FEATURE_KIND else get_hasher(kind).bits // 8


class SqlitePacking(SqliteReads):
    """Reads, plus the derived search arrays and the generation counter that says when they are
    stale."""

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

    def search_index(self, kind: str) -> tuple[KindArrays, HammingIndex]:
        return load_search(self, kind)  # type: ignore[arg-type]

    def keypoint_index(self) -> KeypointIndex:
        return load_keypoints(self)  # type: ignore[arg-type]

    def change_token(self) -> object:
        return self.content_key()

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
