"""Query fingerprint -> candidates from every reference set -> decided, scored, ranked matches.

Pure: no I/O beyond what each ``ReferenceSet`` already holds or reads from its store, so it can
be tested on databases made in the test. The steps live beside it: ``candidates`` (hashes and
keypoint votes), ``verification`` (geometry, both orientations), ``calibration`` (the decision
and the confidence), ``ranking`` (evidence and pixel agreement).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from provcheck.matching import candidates
from provcheck.matching.agreement import QueryPixels
from provcheck.matching.calibration import (
    MIN_INLIERS,
    calibrated_confidence,
    evidence,
    is_same_picture,
    needs_pixels,
)
from provcheck.matching.candidates import QueryCodes
from provcheck.matching.geometry import Verification
from provcheck.matching.hash_checks import HashChecks
from provcheck.matching.match import INNER_PREFIX, Match, default_max_distances
from provcheck.matching.ranking import rank_by_pixels, ranking_key, with_agreement
from provcheck.matching.references import ReferenceSet
from provcheck.matching.verification import verify_both
from provcheck.signals.fingerprint import QueryFingerprint
from provcheck.signals.keypoints import Features
from provcheck.store.records import ItemRecord

#: Below this best pixel agreement of the verified references (a clean crop of the right frame
#: agrees at 0.9 or more), the keypoint-retrieved items held in reserve are verified too.
LOOK_FURTHER_BELOW = 0.8

#: A verified match and the query's orientation it verified in (mirrored?).
Geometry = tuple[Verification, bool]


class Matcher:
    """Search every reference set with every hash kind, variant and keypoint, verify, decide."""

    def __init__(
        self,
        reference_sets: Sequence[ReferenceSet],
        max_distances: Mapping[str, int] | None = None,
        min_inliers: int = MIN_INLIERS,
    ) -> None:
        self.sets = list(reference_sets)
        self.max_distances = dict(default_max_distances())
        self.max_distances.update(max_distances or {})
        self.min_inliers = min_inliers

    def match(
        self, query: QueryFingerprint, limit: int = 5, sha256: str | None = None
    ) -> list[Match]:
        """Matches best first: by evidence, not by confidence. Confidence saturates (a frame
        with 13 inliers reads 0.99, one with 16 reads 1.00), and ranking by it first let a
        look-alike frame with a few more inliers outrank the frame a crop came from whose pixels
        agree far better. ``sha256`` of the query file, when known, puts a byte-identical
        reference ahead of look-alikes (consecutive video frames often hash the same)."""
        if query.fingerprint.flat:
            return []
        matches: list[Match] = []
        for ref in self.sets:
            for found in self._match_one_set(ref, query):
                identical = sha256 is not None and found.item.sha256 == sha256
                matches.append(replace(found, identical_file=True) if identical else found)
        matches.sort(key=ranking_key)
        return matches[:limit]

    def _match_one_set(self, ref: ReferenceSet, query: QueryFingerprint) -> list[Match]:
        q = QueryCodes.of(query, ref.indexes)
        found = candidates.find_candidates(ref, query, q, self.max_distances)
        query = found.query
        if not found.kinds:
            return []
        # Near-identical video frames can put hundreds within a hash's reach: all are reported
        # (the hash decides), but only the nearest and the keypoint-retrieved are verified.
        with ref.store_lock:
            records = {r.id: r for r in ref.store.items(sorted(found.kinds))}
            stored = ref.store.features(found.verify)
        hashed = HashChecks(ref, query, [i for i, kinds in found.kinds.items() if kinds])
        confirmed = False  # a verified item whose whole-picture hash agrees as well
        out: list[Match] = []
        verified_by: dict[int, Geometry] = {}
        for item_id, kinds_hit in found.kinds.items():  # hash candidates, then most votes first
            record = records.get(item_id)
            if record is None:  # removed between loading the arrays and now
                continue
            match, geometry = self._judge(
                ref,
                query,
                q,
                record,
                kinds_hit,
                stored.get(item_id),
                found.local.get(item_id),
                verify_it=not (confirmed and item_id in found.deep),
                hashed=hashed,
            )
            confirmed = confirmed or (
                geometry is not None
                and match is not None
                and match.distances.get("pdq", 256) <= self.max_distances["pdq"]
            )
            if match is not None:
                out.append(match)
                if geometry is not None:
                    verified_by[item_id] = geometry
        if not verified_by or query.preview is None:
            return out
        pixels = QueryPixels(query.preview, query.preview_scale)
        out, best = rank_by_pixels(ref, query, pixels, out, verified_by, stored)
        if found.reserve and not confirmed and best is not None and best < LOOK_FURTHER_BELOW:
            out += self._look_further(ref, query, pixels, q, found.reserve, found.voted)
        return out

    def _judge(
        self,
        ref: ReferenceSet,
        query: QueryFingerprint,
        q: QueryCodes,
        record: ItemRecord,
        kinds_hit: set[str],
        features: Features | None,
        votes: tuple[int, int] | None,
        *,
        verify_it: bool = True,
        hashed: HashChecks | None = None,
    ) -> tuple[Match | None, Geometry | None]:
        """One candidate: verified (unless ``verify_it`` is false), decided, described."""
        distances, transform = q.distances(ref, record.id, self.max_distances)
        geometry = None
        if verify_it:
            geometry = verify_both(query, features, self.min_inliers, votes, transform)
        verified = geometry[0] if geometry else None
        query_low = not query.fingerprint.sufficient
        reference_low = hashed is not None and hashed.reference_low(record.id)
        agreement = None
        if hashed is not None and geometry is not None and (query_low or reference_low):
            agreement = hashed.region_agreement(record.id, geometry, features)
        elif (
            verified is None
            and hashed is not None
            and distances.get("pdq", 256) <= self.max_distances["pdq"]
            and needs_pixels(distances, self.max_distances["phash"], query_low or reference_low)
        ):
            agreement = hashed.agreement(record.id, transform)
        if not is_same_picture(
            kinds_hit,
            verified,
            has_features=ref.has_features(record.id),
            distances=distances,
            max_pdq=self.max_distances["pdq"],
            max_phash=self.max_distances["phash"],
            query_low=query_low,
            reference_low=reference_low,
            agreement=agreement,
        ):
            return None, geometry
        query_region, reference_region = None, None
        if geometry is not None:
            transform = "mirrored" if geometry[1] else "original"
            query_region = geometry[0].query_box
            reference_region = geometry[0].reference_box
        elif transform.startswith(INNER_PREFIX) and query.inner_box is not None:
            query_region = query.inner_box
        match = Match(
            database=ref.name,
            item=record,
            distances=distances,
            confidence=calibrated_confidence(distances, verified),
            evidence=evidence(distances, verified),
            transform=transform,
            hash_kinds_matched=sorted(kinds_hit),
            inliers=geometry[0].inliers if geometry else 0,
            query_region=query_region,
            reference_region=reference_region,
        )
        return match, geometry

    def _look_further(
        self,
        ref: ReferenceSet,
        query: QueryFingerprint,
        pixels: QueryPixels,
        q: QueryCodes,
        reserve: Sequence[int],
        voted: Mapping[int, tuple[int, int]],
    ) -> list[Match]:
        """Verify the keypoint-retrieved items past the usual depth, ranked by their pixels too,
        until one agrees. Only called when the previews say that no verified reference is the
        picture: the frame a crop came from can rank past the 24th by votes among look-alike
        frames, and once it is found the rest cannot do better than agree as well."""
        with ref.store_lock:
            records = {r.id: r for r in ref.store.items(sorted(reserve))}
            stored = ref.store.features(reserve)
            previews = ref.store.thumbnails(reserve)
        found: list[Match] = []
        for item_id in reserve:
            record = records.get(item_id)
            if record is None:
                continue
            match, geometry = self._judge(
                ref, query, q, record, set(), stored.get(item_id), voted.get(item_id)
            )
            if match is None or geometry is None:
                continue
            ranked, agreement = with_agreement(
                query, pixels, match, geometry, stored.get(item_id), previews.get(item_id)
            )
            found.append(ranked)
            if agreement is not None and agreement >= LOOK_FURTHER_BELOW:
                break
        return found
