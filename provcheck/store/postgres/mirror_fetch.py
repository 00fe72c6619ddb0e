"""What a scanner's mirror fetches from the server: the rows of the batches committed since its
last sync (or all rows, the first time), read in one consistent snapshot.

Batches become visible in ``seq`` order (``provcheck.store.postgres.writes``), so "every batch with
``seq`` above the one I synced last, up to the highest I can see now" is exactly what is new.
Only what a search needs crosses the network: hash bits, and the first ``RETRIEVAL_FEATURES``
descriptors of each item's keypoints (cut out of the blob by the server: ~4 KB of its ~18 KB).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from provcheck.errors import DatabaseError
from provcheck.signals.hashes import get_hasher
from provcheck.signals.keypoints import RETRIEVAL_FEATURES
from provcheck.store.postgres.connection import Connection
from provcheck.store.records import KindArrays

#: Rows per round trip of the server-side cursors.
FETCH_ROWS = 5_000
#: provcheck.signals.keypoints' blob header: magic, keypoint count, width, height.
_HEADER = struct.Struct("<4sHHH")
_MAGIC = b"PCF1"
# The blob is header + 4 bytes of coordinates per keypoint + 32 bytes of descriptor per keypoint;
# the server sends the header and the first descriptors only.
_FEATURES = (
    "SELECT item_id, substring(data FROM 1 FOR 10),"
    " substring(data FROM 11 + 4 * (get_byte(data, 4) + 256 * get_byte(data, 5))"
    " FOR 32 * LEAST(get_byte(data, 4) + 256 * get_byte(data, 5), %s))"
    " FROM features{where} ORDER BY item_id"
)


@dataclass(slots=True)
class Changes:
    """Rows committed after the mirror's ``seq`` up to ``seq`` (all rows when ``full``)."""

    seq: int
    full: bool
    hashes: dict[str, KindArrays] = field(default_factory=dict)
    #: Items with new keypoints (ascending), and their retrieval descriptors, row by row.
    feature_items: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    owners: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    descriptors: np.ndarray = field(default_factory=lambda: np.zeros((0, 32), np.uint8))
    removed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def latest_seq(db: Connection) -> int:
    """The newest commit the server shows (0 for a store nothing was ever written to)."""
    return int(db.scalar("SELECT COALESCE(max(seq), 0) FROM batches"))


def fetch_changes(db: Connection, since: int | None) -> Changes:
    """Everything committed after ``since`` (everything when None), in one snapshot."""
    with db.snapshot():
        top = latest_seq(db)
        if since is None:
            where, params = "", []
        else:
            batches = [
                int(r[0])
                for r in db.all("SELECT id FROM batches WHERE seq > %s AND seq <= %s", (since, top))
            ]
            where, params = " WHERE batch_id = ANY(%s)", [batches]
        changes = Changes(top, since is None)
        changes.hashes = _hashes(db, where, params)
        _features(db, where, params, changes)
        if since is not None:
            rows = db.all(f"SELECT item_id FROM removed{where}", params)
            changes.removed = np.unique(np.array([r[0] for r in rows], dtype=np.int64))
    return changes


def _hashes(db: Connection, where: str, params: list[object]) -> dict[str, KindArrays]:
    rows: dict[str, tuple[list[int], list[int], list[bytes]]] = {}
    for kind, hash_id, item_id, bits in db.stream(
        f"SELECT kind, id, item_id, bits FROM hashes{where}", params, FETCH_ROWS
    ):
        ids, items, codes = rows.setdefault(kind, ([], [], []))
        ids.append(hash_id)
        items.append(item_id)
        codes.append(bytes(bits))
    out: dict[str, KindArrays] = {}
    for kind, (ids, items, codes) in rows.items():
        try:
            nbytes = get_hasher(kind).bits // 8
        except (KeyError, ValueError):
            continue  # a kind this provcheck cannot compute is not searched
        blob = b"".join(codes)
        if len(blob) != nbytes * len(codes):
            raise DatabaseError(f"{db.where}: {kind} hashes of the wrong length in the store")
        out[kind] = KindArrays(
            kind,
            np.array(ids, dtype=np.int64),
            np.array(items, dtype=np.int64),
            np.frombuffer(blob, dtype=np.uint8).reshape(-1, nbytes).copy(),
        )
    return out


def _features(db: Connection, where: str, params: list[object], changes: Changes) -> None:
    items: list[int] = []
    counts: list[int] = []
    chunks: list[bytes] = []
    sql = _FEATURES.format(where=where)
    for item_id, header, descriptors in db.stream(sql, [RETRIEVAL_FEATURES, *params], FETCH_ROWS):
        magic, n, _w, _h = _HEADER.unpack(bytes(header))
        kept = min(n, RETRIEVAL_FEATURES)
        if magic != _MAGIC or len(descriptors) != 32 * kept:
            raise DatabaseError(f"{db.where}: the keypoints of item {item_id} are damaged")
        items.append(item_id)
        counts.append(kept)
        chunks.append(bytes(descriptors))
    changes.feature_items = np.array(items, dtype=np.int64)
    changes.owners = np.repeat(changes.feature_items, np.array(counts, dtype=np.int64))
    changes.descriptors = np.frombuffer(b"".join(chunks), dtype=np.uint8).reshape(-1, 32).copy()
