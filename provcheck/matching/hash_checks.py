"""What a match is checked with beyond its hash distances and inliers: the detail of the
reference (PDQ quality, as stored with its PDQ hash) and, where the evidence says little on its
own, the pixels: of the whole pictures for a match found by its hashes, of the part the
keypoints place the query on for a verified match of low detail.

Read lazily, per reference set and query: the stored qualities of the hash candidates in one
read when first asked (others one by one), a preview only for a candidate that needs a check.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from provcheck.matching.agreement import Agreement, QueryPixels, mirror_affine, pixel_agreement
from provcheck.matching.geometry import Verification
from provcheck.matching.references import ReferenceSet
from provcheck.matching.whole_picture import whole_agreement
from provcheck.signals.fingerprint import QueryFingerprint
from provcheck.signals.hashes import MIN_QUALITY
from provcheck.signals.keypoints import Features
from provcheck.signals.thumbnail import thumbnail_pixels


class HashChecks:
    """The evidence beyond its hash distances and inliers for each candidate of one query."""

    def __init__(self, ref: ReferenceSet, query: QueryFingerprint, items: Sequence[int]) -> None:
        self._ref = ref
        self._query = query
        self._items = list(items)
        self._qualities: dict[int, int | None] | None = None
        self._previews: dict[int, np.ndarray | None] = {}

    def reference_quality(self, item_id: int) -> int | None:
        """The PDQ quality stored with the item's PDQ hash (None: not stored, as in hash-only
        imports)."""
        if self._qualities is None:
            self._qualities = self._read_qualities(self._items)
        if item_id not in self._qualities:  # found by its keypoints alone
            self._qualities.update(self._read_qualities([item_id]))
        return self._qualities.get(item_id)

    def _read_qualities(self, item_ids: Sequence[int]) -> dict[int, int | None]:
        found: dict[int, int | None] = dict.fromkeys(item_ids)
        if not item_ids:
            return found
        with self._ref.store_lock:
            records = self._ref.store.items(item_ids, with_hashes=True)
        for record in records:
            qualities = [h.quality for h in record.hashes if h.hash.kind == "pdq"]
            found[record.id] = min((q for q in qualities if q is not None), default=None)
        return found

    def reference_low(self, item_id: int) -> bool:
        """Whether the reference has too little detail for its hashes alone."""
        quality = self.reference_quality(item_id)
        return quality is not None and quality < MIN_QUALITY

    def _preview(self, item_id: int) -> np.ndarray | None:
        if item_id not in self._previews:
            with self._ref.store_lock:
                preview = self._ref.store.thumbnails([item_id]).get(item_id)
            self._previews[item_id] = thumbnail_pixels(preview) if preview is not None else None
        return self._previews[item_id]

    def agreement(self, item_id: int, transform: str) -> Agreement | None:
        """The whole query against the reference's preview, laid as ``transform`` says; None
        without a preview on either side."""
        pixels = self._preview(item_id)
        if self._query.preview is None or pixels is None:
            return None
        return whole_agreement(self._query.preview, pixels, transform, self._query.inner_box)

    def region_agreement(
        self, item_id: int, geometry: tuple[Verification, bool], reference: Features | None
    ) -> Agreement | None:
        """The query against the reference's preview where its keypoints place it (as
        ``ranking.with_agreement`` compares them); None without a preview on either side."""
        features = self._query.fingerprint.features
        theirs = self._preview(item_id)
        if self._query.preview is None or features is None or theirs is None:
            return None
        if reference is None or reference.width == 0:
            return None
        verification, mirrored = geometry
        matrix = verification.matrix
        if mirrored:
            matrix = mirror_affine(matrix, features.width)
        pixels = QueryPixels(self._query.preview, self._query.preview_scale)
        return pixel_agreement(pixels, matrix, theirs, theirs.shape[1] / reference.width)
