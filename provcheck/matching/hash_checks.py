"""What a match found by its hashes alone is checked with: the detail of both pictures (PDQ
quality, the query's from its fingerprint, each reference's as stored with its PDQ hash) and,
where the hashes say little, the whole pictures' pixel agreement.

Read lazily, per reference set and query: the stored qualities of the hash candidates in one
read when first asked, a preview only for a candidate that needs the pixel check.
"""

from __future__ import annotations

from collections.abc import Sequence

from provcheck.matching.agreement import Agreement
from provcheck.matching.references import ReferenceSet
from provcheck.matching.whole_picture import whole_agreement
from provcheck.signals.fingerprint import QueryFingerprint
from provcheck.signals.hashes import MIN_QUALITY
from provcheck.signals.thumbnail import thumbnail_pixels


class HashChecks:
    """The evidence beyond its hash distances for each hash candidate of one query."""

    def __init__(self, ref: ReferenceSet, query: QueryFingerprint, items: Sequence[int]) -> None:
        self._ref = ref
        self._query = query
        self._items = list(items)
        self._qualities: dict[int, int | None] | None = None

    def reference_quality(self, item_id: int) -> int | None:
        """The PDQ quality stored with the item's PDQ hash (None: not stored, as in hash-only
        imports and databases written before qualities were kept)."""
        if self._qualities is None:
            self._qualities = {}
            with self._ref.store_lock:
                records = self._ref.store.items(self._items, with_hashes=True)
            for record in records:
                found = [h.quality for h in record.hashes if h.hash.kind == "pdq"]
                self._qualities[record.id] = min((q for q in found if q is not None), default=None)
        return self._qualities.get(item_id)

    def reference_low(self, item_id: int) -> bool:
        """Whether the reference has too little detail for its hashes alone."""
        quality = self.reference_quality(item_id)
        return quality is not None and quality < MIN_QUALITY

    def agreement(self, item_id: int, transform: str) -> Agreement | None:
        """The whole query against the reference's preview, laid as ``transform`` says; None
        without a preview on either side."""
        if self._query.preview is None:
            return None
        with self._ref.store_lock:
            preview = self._ref.store.thumbnails([item_id]).get(item_id)
        pixels = thumbnail_pixels(preview) if preview is not None else None
        if pixels is None:
            return None
        return whole_agreement(self._query.preview, pixels, transform, self._query.inner_box)
