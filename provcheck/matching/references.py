"""One reference database as a scan searches it: its search arrays and indexes, loaded once."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from provcheck.search.hash_index import HammingIndex
from provcheck.search.keypoint_index import MAX_RETRIEVAL_ITEMS, KeypointIndex
from provcheck.search.tiered_keypoints import KeypointSearch
from provcheck.store.interface import Store
from provcheck.store.records import KindArrays


class ReferenceSet:
    """One database's search arrays and indexes, loaded once per scan."""

    def __init__(self, store: Store, kinds: Sequence[str]) -> None:
        self.store = store
        #: Held for every read of ``store``: the arrays and indexes are read-only after loading,
        #: so threads (``provcheck serve``) may match at once, but one SQLite connection is not
        #: used by two threads at a time (the matcher and ``provcheck.matching.timeline`` both
        #: read it).
        self.store_lock = threading.Lock()
        self.name = str(store.path)
        self.arrays: dict[str, KindArrays] = {}
        self.indexes: dict[str, HammingIndex] = {}
        for kind in kinds:
            self.arrays[kind], self.indexes[kind] = store.search_index(kind)
        self._feature_items = store.feature_item_ids()  # sorted
        #: Keypoint retrieval indexes at most MAX_RETRIEVAL_ITEMS items (reported per database);
        #: past it only hash candidates are verified.
        self.keypoint_retrieval = len(self._feature_items) <= MAX_RETRIEVAL_ITEMS
        self._keypoints: KeypointSearch | None = None

    @property
    def keypoints(self) -> KeypointSearch:
        """The keypoint retrieval index, loaded on first use: a hash-only scan
        (``--no-keypoints``) never needs it, and loading it costs ~0.3 s at 100k references."""
        if self._keypoints is None:
            with self.store_lock:
                if self._keypoints is None:
                    self._keypoints = (
                        self.store.keypoint_index()
                        if self.keypoint_retrieval
                        else KeypointIndex.build(np.zeros(0, np.int64), np.zeros((0, 32), np.uint8))
                    )
        return self._keypoints

    @keypoints.setter
    def keypoints(self, index: KeypointSearch) -> None:
        self._keypoints = index

    def has_features(self, item_id: int) -> bool:
        """Whether the item has keypoints (hash-only imports have none); owners are sorted."""
        owners = self._feature_items
        at = int(np.searchsorted(owners, item_id))
        return at < len(owners) and int(owners[at]) == item_id

    def __len__(self) -> int:
        return max((len(a.item_ids) for a in self.arrays.values()), default=0)

    def item_distance(self, kind: str, item_id: int, codes: np.ndarray) -> tuple[int, int] | None:
        """Smallest distance from any query variant in ``codes`` to the item's ``kind`` hashes,
        with the variant's index; None when the item has no hash of that kind."""
        arrays = self.arrays.get(kind)
        if arrays is None:
            return None
        lo, hi = np.searchsorted(arrays.item_ids, [item_id, item_id + 1])
        if lo == hi:
            return None
        block = arrays.codes[lo:hi]
        d = np.bitwise_count(block[None, :, :] ^ codes[:, None, :]).sum(axis=2)
        variant, _row = np.unravel_index(int(np.argmin(d)), d.shape)
        return int(d.min()), int(variant)
