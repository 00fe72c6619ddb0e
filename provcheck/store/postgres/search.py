"""The PostgreSQL backend's search side: what a scan searches comes from the local mirror
(``provcheck.store.postgres.mirror``), synced with the server when it is asked for and the server
has moved on; everything else a match reports (items, provenance, keypoints to verify, previews)
is read from the server per query."""

from __future__ import annotations

import threading

import numpy as np

from provcheck.search.hash_index import HammingIndex
from provcheck.search.keypoint_index import KeypointIndex
from provcheck.search.tiered_keypoints import TieredKeypointIndex
from provcheck.store.postgres.exchange import PostgresExchange
from provcheck.store.postgres.mirror import Mirror
from provcheck.store.postgres.mirror_fetch import latest_seq
from provcheck.store.postgres.mirror_files import mirror_folder
from provcheck.store.records import FEATURE_KIND, KindArrays


class PostgresSearch(PostgresExchange):
    """Reads and writes, plus the mirrored search arrays."""

    _mirror: Mirror | None = None
    #: ``serve`` syncs from its refresh thread while requests may load a keypoint index: one
    #: sync at a time, and what callers get back (arrays, indexes) is never changed afterwards.
    _mirror_lock = threading.Lock()

    def _synced(self) -> Mirror:
        with self._mirror_lock:
            return self._sync_now()

    def _sync_now(self) -> Mirror:
        if self._mirror is None:
            info = self._db.raw.info
            folder = mirror_folder(str(info.host), str(info.port), str(info.dbname), self.store_id)
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError:
                folder = None  # keep it in memory: every process then fetches it once
            self._mirror = Mirror(folder, self.store_id)
        self._mirror.sync(self._db)
        return self._mirror

    def change_token(self) -> object:
        """Moves on with every commit that changed what a scan searches (one cheap query)."""
        return latest_seq(self._db)

    def search_index(self, kind: str) -> tuple[KindArrays, HammingIndex]:
        return self._synced().search(kind)

    def keypoint_index(self) -> KeypointIndex | TieredKeypointIndex:
        return self._synced().keypoints()

    def feature_item_ids(self) -> np.ndarray:
        """Ids of the items that have keypoints, sorted (from the mirror)."""
        return np.asarray(self._synced().feature_items)

    def feature_count(self) -> int:
        return len(self._synced().feature_items)

    # The arrays the SQLite sidecars are built from, for callers written against them.

    def generation(self) -> int:
        return int(self._synced().seq or 0)

    def content_key(self) -> dict[str, object]:
        return {"store_id": self.store_id, "seq": self.generation()}

    def hash_count(self, kind: str) -> int:
        return len(self._synced().search(kind)[0].item_ids)

    def kind_arrays(self, kind: str) -> KindArrays:
        mirror = self._synced()
        if kind != FEATURE_KIND:
            return mirror.search(kind)[0]
        owners = [np.asarray(p.index.owners) for p in mirror.parts]
        descriptors = [np.asarray(p.index.descriptors) for p in mirror.parts]
        ids = np.concatenate(owners) if owners else np.zeros(0, np.int64)
        codes = np.concatenate(descriptors) if descriptors else np.zeros((0, 32), np.uint8)
        return KindArrays(FEATURE_KIND, ids, ids, codes)
