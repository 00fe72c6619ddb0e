"""Query fingerprint -> candidates from every reference set -> decided, scored matches.

Pure: no I/O beyond what the ``ReferenceSet`` already holds in memory, so it can be tested on
arrays made in the test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from provcheck.arraycache import load_search
from provcheck.fingerprint import QueryFingerprint, get_hasher
from provcheck.index import HammingIndex
from provcheck.store import ItemRecord, KindArrays, Store

#: Names of the transforms behind each query variant, in the order the hashers return them
#: (PDQ: its eight dihedral hashes; pHash: as-is and mirrored).
VARIANT_NAMES: Mapping[str, Sequence[str]] = {
    "pdq": (
        "original",
        "rotated 90",
        "rotated 180",
        "rotated 270",
        "mirrored",
        "flipped vertically",
        "transposed",
        "anti-transposed",
    ),
    "phash": ("original", "mirrored"),
}


def default_max_distances() -> dict[str, int]:
    return {kind: get_hasher(kind).max_distance for kind in VARIANT_NAMES}


@dataclass(frozen=True, slots=True)
class Match:
    """One reference item that the query is judged to be a copy of."""

    database: str
    item: ItemRecord
    distances: dict[str, int]
    confidence: float
    transform: str  # how the query relates to the reference: "original", "mirrored", ...
    hash_kinds_matched: list[str] = field(default_factory=list)


def confidence_for(distances: Mapping[str, int], max_distances: Mapping[str, int]) -> float:
    """1.0 for identical hashes, 0.5 at a kind's ``max_distance``, 0 at twice it; best kind wins.

    A plain, monotone reading of distance, documented in the README; it is not a probability.
    """
    best = 0.0
    for kind, d in distances.items():
        limit = max_distances.get(kind)
        if limit:
            best = max(best, 1.0 - 0.5 * d / limit)
    return round(min(1.0, max(0.0, best)), 4)


class ReferenceSet:
    """One database's search arrays and indexes, loaded once per scan."""

    def __init__(self, store: Store, kinds: Sequence[str]) -> None:
        self.store = store
        self.name = str(store.path)
        self.arrays: dict[str, KindArrays] = {}
        self.indexes: dict[str, HammingIndex] = {}
        for kind in kinds:
            self.arrays[kind], self.indexes[kind] = load_search(store, kind)

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


class Matcher:
    """Search every reference set with every hash kind and variant, then decide and rank."""

    def __init__(
        self,
        reference_sets: Sequence[ReferenceSet],
        max_distances: Mapping[str, int] | None = None,
    ) -> None:
        self.sets = list(reference_sets)
        self.max_distances = dict(default_max_distances())
        self.max_distances.update(max_distances or {})

    def match(self, query: QueryFingerprint, limit: int = 5) -> list[Match]:
        if not query.fingerprint.sufficient:
            return []
        matches: list[Match] = []
        for ref in self.sets:
            matches.extend(self._match_one_set(ref, query))
        matches.sort(
            key=lambda m: (-m.confidence, sum(m.distances.values()), m.database, m.item.id)
        )
        return matches[:limit]

    def _match_one_set(self, ref: ReferenceSet, query: QueryFingerprint) -> list[Match]:
        codes = {
            kind: np.stack([np.frombuffer(h.bits, dtype=np.uint8) for h in hashes])
            for kind, hashes in query.variants.items()
            if kind in ref.indexes
        }
        candidates: dict[int, set[str]] = {}
        for kind, variant_codes in codes.items():
            index, arrays = ref.indexes[kind], ref.arrays[kind]
            for hits in index.query_many(variant_codes, self.max_distances[kind]):
                for item_id in arrays.item_ids[hits.rows].tolist():
                    candidates.setdefault(int(item_id), set()).add(kind)
        if not candidates:
            return []
        records = {r.id: r for r in ref.store.items(sorted(candidates))}
        out = []
        for item_id, kinds_hit in candidates.items():
            distances: dict[str, int] = {}
            best_variant = (10**9, "original")
            for kind, variant_codes in codes.items():
                found = ref.item_distance(kind, item_id, variant_codes)
                if found is None:
                    continue
                distance, variant = found
                distances[kind] = distance
                normalised = distance / self.max_distances[kind]
                if normalised < best_variant[0]:
                    best_variant = (normalised, VARIANT_NAMES[kind][variant])
            record = records.get(item_id)
            if record is None:  # removed between loading the arrays and now
                continue
            out.append(
                Match(
                    database=ref.name,
                    item=record,
                    distances=distances,
                    confidence=confidence_for(distances, self.max_distances),
                    transform=best_variant[1],
                    hash_kinds_matched=sorted(kinds_hit),
                )
            )
        return out
