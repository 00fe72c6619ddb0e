"""Query fingerprint -> candidates from every reference set -> decided, scored matches.

Pure: no I/O beyond what the ``ReferenceSet`` already holds in memory, so it can be tested on
arrays made in the test.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from provcheck.agreement import QueryPixels, mirror_affine, pixel_agreement
from provcheck.arraycache import load_keypoints, load_search
from provcheck.calibration import MIN_INLIERS, calibrated_confidence, evidence
from provcheck.features import Features
from provcheck.fingerprint import QueryFingerprint, get_hasher
from provcheck.index import HammingIndex
from provcheck.keypoint_index import MAX_RETRIEVAL_ITEMS, KeypointIndex, VoteArrays
from provcheck.store import ItemRecord, KindArrays, Region, Store
from provcheck.thumbnail import Thumbnail, thumbnail_pixels
from provcheck.verify import Verification, verify

#: A query keypoint votes for the item owning its nearest stored keypoint within this distance.
VOTE_DISTANCE = 48
#: Votes an item needs before it is worth verifying; and how many items are verified at most.
MIN_VOTES, MAX_VERIFIED = 2, 12
#: How many keypoint-retrieved items are verified at most: the first ``MAX_VERIFIED`` always,
#: the rest only while no verified item is also confirmed by its whole-picture hash (a partial
#: match: a crop, a screenshot, or nothing). In a video with a HUD or a scrolling background many
#: frames share a crop's keypoints, and the true frame ranked 13th-24th by votes for ~1 in 10
#: such queries (benchmarks/robustness.py). Each costs one or two verifications (~4 ms each).
MAX_LOCAL_VERIFIED = 24
#: How deep keypoint retrieval is verified when the pixels say no verified reference is the
#: picture (the best pixel agreement, ``provcheck.agreement``, is under ``LOOK_FURTHER_BELOW``):
#: the frame a crop came from can rank past the 24th by votes among look-alike frames. Only
#: references with previews can trigger it; each item costs one or two verifications.
MAX_LOCAL_RESERVE, LOOK_FURTHER_BELOW = 48, 0.8
#: The query's strongest keypoints that vote: retrieval cost grows with them (verify uses all).
QUERY_VOTERS = 300

#: Names of the transforms behind each query variant, in the order the hashers return them
#: (PDQ: its eight dihedral hashes, pinned by tests/test_matcher.py; pHash: as-is and mirrored).
VARIANT_NAMES: Mapping[str, Sequence[str]] = {
    # How the query relates to the reference it matched: "the query is the reference ...".
    "pdq": (
        "original",
        "rotated 90 clockwise",
        "rotated 180",
        "rotated 90 counter-clockwise",
        "flipped vertically",
        "mirrored",
        "transposed",
        "transversed",
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
    identical_file: bool = False  # the query's bytes are the reference file's bytes
    inliers: int = 0  # keypoints agreeing on one geometric transform (0: not verified)
    evidence: float = 0.0  # log-odds behind the confidence (and the pixels'), unsaturated: ranks
    #: The matched part of each picture as fractions [x, y, w, h] of its width and height, in the
    #: query's and the reference's own coordinates; None = the whole picture (or not known).
    query_region: Region | None = None
    reference_region: Region | None = None
    #: Correlation (-1..1) of the query's and the reference preview's grey levels where the
    #: keypoints place the query (``provcheck.agreement``); None when not computed (no preview,
    #: not verified by keypoints).
    pixel_agreement: float | None = None
    #: Video frames: the stretches of the reference video that show the matched picture, as
    #: (start, end) seconds, the matched frame's own first (``provcheck.timeline``); () otherwise.
    shown_at: tuple[tuple[float, float | None], ...] = ()


class ReferenceSet:
    """One database's search arrays and indexes, loaded once per scan."""

    def __init__(self, store: Store, kinds: Sequence[str]) -> None:
        self.store = store
        #: Held for every read of ``store``: the arrays and indexes are read-only after loading,
        #: so threads (``provcheck serve``) may match at once, but one SQLite connection is not
        #: used by two threads at a time (the matcher and ``provcheck.timeline`` both read it).
        self.store_lock = threading.Lock()
        self.name = str(store.path)
        self.arrays: dict[str, KindArrays] = {}
        self.indexes: dict[str, HammingIndex] = {}
        for kind in kinds:
            self.arrays[kind], self.indexes[kind] = load_search(store, kind)
        self._feature_items = store.feature_item_ids()  # sorted
        #: Keypoint retrieval indexes at most MAX_RETRIEVAL_ITEMS items (reported per database);
        #: past it only hash candidates are verified.
        self.keypoint_retrieval = len(self._feature_items) <= MAX_RETRIEVAL_ITEMS
        self._keypoints: KeypointIndex | None = None

    @property
    def keypoints(self) -> KeypointIndex:
        """The keypoint retrieval index, loaded on first use: a hash-only scan
        (``--no-keypoints``) never needs it, and loading it costs ~0.3 s at 100k references."""
        if self._keypoints is None:
            with self.store_lock:
                if self._keypoints is None:
                    self._keypoints = (
                        load_keypoints(self.store)
                        if self.keypoint_retrieval
                        else KeypointIndex.build(np.zeros(0, np.int64), np.zeros((0, 32), np.uint8))
                    )
        return self._keypoints

    @keypoints.setter
    def keypoints(self, index: KeypointIndex) -> None:
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


@dataclass(frozen=True, slots=True)
class _QueryCodes:
    """Every hash a query searches with, per kind, and the transform each row stands for."""

    codes: dict[str, np.ndarray]
    names: dict[str, list[str]]

    @classmethod
    def of(cls, query: QueryFingerprint, kinds: Iterable[str]) -> _QueryCodes:
        codes, names = {}, {}
        for kind in kinds:
            hashes = list(query.variants.get(kind, []))
            labels = list(VARIANT_NAMES[kind][: len(hashes)])
            inner = (query.inner_variants or {}).get(kind, [])
            # Only the as-is and mirrored hashes of the inner picture: rotations of a crop are rare.
            for n, h in enumerate(inner[:1] + inner[5:6] if kind == "pdq" else inner):
                hashes.append(h)
                labels.append(INNER_PREFIX + ("original" if n == 0 else "mirrored"))
            if hashes:
                codes[kind] = np.stack([np.frombuffer(h.bits, dtype=np.uint8) for h in hashes])
                names[kind] = labels
        return cls(codes, names)


INNER_PREFIX = "inner picture, "


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
        if not query.fingerprint.sufficient:
            return []
        matches: list[Match] = []
        for ref in self.sets:
            for found in self._match_one_set(ref, query):
                identical = sha256 is not None and found.item.sha256 == sha256
                matches.append(replace(found, identical_file=True) if identical else found)
        matches.sort(
            key=lambda m: (
                not m.identical_file,
                -m.evidence,
                -m.inliers,
                sum(m.distances.values()),
                m.database,
                m.item.id,
            )
        )
        return matches[:limit]

    def _global_candidates(
        self, ref: ReferenceSet, q: _QueryCodes
    ) -> tuple[dict[int, set[str]], list[int]]:
        """Items within a kind's ``max_distance`` of any query hash (with the kinds that hit), and
        the nearest ``MAX_VERIFIED`` of them, nearest first: the ones worth verifying."""
        candidates: dict[int, set[str]] = {}
        nearest: dict[int, float] = {}
        for kind, variant_codes in q.codes.items():
            if kind not in ref.indexes:
                continue
            index, arrays = ref.indexes[kind], ref.arrays[kind]
            scale = max(1, self.max_distances[kind])
            for hits in index.query_many(variant_codes, self.max_distances[kind]):
                for item_id, d in zip(
                    arrays.item_ids[hits.rows].tolist(), hits.distances.tolist(), strict=True
                ):
                    candidates.setdefault(item_id, set()).add(kind)
                    nearest[item_id] = min(d / scale, nearest.get(item_id, float("inf")))
        ranked = sorted(nearest, key=lambda i: (nearest[i], i))[:MAX_VERIFIED]
        return candidates, ranked

    def _local_candidates(
        self, ref: ReferenceSet, query: QueryFingerprint
    ) -> tuple[dict[int, tuple[int, int]], QueryFingerprint]:
        """The ``MAX_LOCAL_RESERVE`` most-voted items (most first), each with its votes as the
        query is and mirrored: the orientation with more votes is verified first. Past the
        ``MAX_LOCAL_VERIFIED``-th they are verified only when the pixels ask for it.

        Also the query as it voted: its mirror image's zoomed keypoints count (and later verify)
        only when the mirror image's keypoints, zoomed or not, drew the strongest vote of all. A
        flipped crop needs them; for anything else they are one more set of noise, and on a game
        with a symmetric HUD and floor they crowded the frame a centred crop came from out of the
        verified 24. (Gated on the mirror image's own keypoints alone, the rule missed a flipped
        crop in three of 40, whose unzoomed keypoints vote no better than noise.)"""
        if not ref.keypoint_retrieval:  # no votes to tell a flipped query by
            return {}, replace(query, mirrored_zoomed_features=None)

        def vote(features: Features) -> VoteArrays:
            return ref.keypoints.vote_arrays(features.descriptors[:QUERY_VOTERS], VOTE_DISTANCE)

        # The picture inside a screenshot votes on its own as well: the app's text and chrome
        # hold many strong corners that crowd its keypoints out of the query's strongest.
        voting = (
            (0, query.fingerprint.features),
            (0, query.inner_features),
            (0, query.zoomed_features),
            (1, query.mirrored_features),
        )
        found = [(side, vote(features)) for side, features in voting if features is not None]
        if query.mirrored_zoomed_features is not None:
            flipped = vote(query.mirrored_zoomed_features)
            mirror_side = [v for side, v in found if side == 1] + [flipped]
            if _strongest(mirror_side) > _strongest(v for side, v in found if side == 0):
                found.append((1, flipped))
            else:
                query = replace(query, mirrored_zoomed_features=None)
        if not found:
            return {}, query
        items = np.unique(np.concatenate([votes.items for _, votes in found]))
        if len(items) == 0:
            return {}, query
        # Per item and orientation (as is, mirrored), the best-scoring set's votes. In arrays: at
        # 100k references the keypoints reach tens of thousands of items.
        scores = np.zeros((2, len(items)))
        counts = np.zeros((2, len(items)), dtype=np.int64)
        for side, votes in found:
            at = np.searchsorted(items, votes.items)
            better = votes.scores > scores[side, at]
            scores[side, at[better]] = votes.scores[better]
            counts[side, at[better]] = votes.counts[better]
        # The most distinctive votes first (a shared HUD votes for thousands of frames); ties go
        # to the higher item id.
        kept = np.flatnonzero(counts.max(axis=0) >= MIN_VOTES)
        order = kept[np.lexsort((items[kept], scores.max(axis=0)[kept]))]
        chosen = order[::-1][:MAX_LOCAL_RESERVE]
        voted = {int(items[i]): (int(counts[0, i]), int(counts[1, i])) for i in chosen.tolist()}
        return voted, query

    def _match_one_set(self, ref: ReferenceSet, query: QueryFingerprint) -> list[Match]:
        q = _QueryCodes.of(query, ref.indexes)
        candidates, worth_verifying = self._global_candidates(ref, q)
        voted, query = self._local_candidates(ref, query)
        local = dict(list(voted.items())[:MAX_LOCAL_VERIFIED])
        for item_id in local:
            candidates.setdefault(item_id, set())
            worth_verifying.append(item_id)
        reserve = [i for i in list(voted)[MAX_LOCAL_VERIFIED:] if i not in candidates]
        if not candidates:
            return []
        # Near-identical video frames can put hundreds within a hash's reach: all are reported
        # (the hash decides), but only the nearest and the keypoint-retrieved are verified.
        with ref.store_lock:
            records = {r.id: r for r in ref.store.items(sorted(candidates))}
            stored = ref.store.features(worth_verifying)
        deep = set(list(local)[MAX_VERIFIED:])
        confirmed = False  # a verified item whose whole-picture hash agrees as well
        out: list[Match] = []
        verified_by: dict[int, tuple[Verification, bool]] = {}
        for item_id, kinds_hit in candidates.items():  # hash candidates, then most votes first
            record = records.get(item_id)
            if record is None:  # removed between loading the arrays and now
                continue
            found, geometry = self._judge(
                ref,
                query,
                q,
                record,
                kinds_hit,
                stored.get(item_id),
                local.get(item_id),
                verify_it=not (confirmed and item_id in deep),
            )
            confirmed = confirmed or (
                geometry is not None
                and found is not None
                and found.distances.get("pdq", 256) <= self.max_distances["pdq"]
            )
            if found is not None:
                out.append(found)
                if geometry is not None:
                    verified_by[item_id] = geometry
        if not verified_by or query.preview is None:
            return out
        pixels = QueryPixels(query.preview, query.preview_scale)
        out, best = self._rank_by_pixels(ref, query, pixels, out, verified_by, stored)
        if reserve and not confirmed and best is not None and best < LOOK_FURTHER_BELOW:
            out += self._look_further(ref, query, pixels, q, reserve, voted)
        return out

    def _judge(
        self,
        ref: ReferenceSet,
        query: QueryFingerprint,
        q: _QueryCodes,
        record: ItemRecord,
        kinds_hit: set[str],
        features: Features | None,
        votes: tuple[int, int] | None,
        *,
        verify_it: bool = True,
    ) -> tuple[Match | None, tuple[Verification, bool] | None]:
        """One candidate: verified (unless ``verify_it`` is false), decided, described."""
        distances, transform = self._distances(ref, record.id, q)
        geometry = None
        if verify_it:
            geometry = _verify_both(query, features, self.min_inliers, votes, transform)
        if not self._decide(
            kinds_hit, geometry, has_features=ref.has_features(record.id), distances=distances
        ):
            return None, geometry
        verified = geometry[0] if geometry else None
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
        q: _QueryCodes,
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
            ranked, agreement = _with_agreement(
                query, pixels, match, geometry, stored.get(item_id), previews.get(item_id)
            )
            found.append(ranked)
            if agreement is not None and agreement >= LOOK_FURTHER_BELOW:
                break
        return found

    def _rank_by_pixels(
        self,
        ref: ReferenceSet,
        query: QueryFingerprint,
        pixels: QueryPixels,
        found: list[Match],
        verified_by: Mapping[int, tuple[Verification, bool]],
        stored: Mapping[int, Features],
    ) -> tuple[list[Match], float | None]:
        """Add each verified match's pixel agreement (``provcheck.agreement``) to its evidence,
        where the reference has a preview: among frames of one video that all verify, it names
        the frame the query was taken from. References without previews (the bundled pack ships
        none) keep their evidence as it was. Also returns the best agreement (None: no preview
        said anything)."""
        with ref.store_lock:
            previews = ref.store.thumbnails(verified_by)
        out = []
        best: float | None = None
        for match in found:
            item_id = match.item.id
            if item_id not in verified_by:
                out.append(match)
                continue
            scored, agreement = _with_agreement(
                query,
                pixels,
                match,
                verified_by[item_id],
                stored.get(item_id),
                previews.get(item_id),
            )
            out.append(scored)
            if agreement is not None:
                best = agreement if best is None else max(best, agreement)
        return out, best

    def _distances(
        self, ref: ReferenceSet, item_id: int, q: _QueryCodes
    ) -> tuple[dict[str, int], str]:
        distances: dict[str, int] = {}
        best = (float("inf"), "original")
        for kind, variant_codes in q.codes.items():
            found = ref.item_distance(kind, item_id, variant_codes)
            if found is None:
                continue
            distance, variant = found
            distances[kind] = distance
            normalised = distance / max(1, self.max_distances[kind])  # 0: exact only
            if normalised < best[0]:
                best = (normalised, q.names[kind][variant])
        return distances, best[1]

    def _decide(
        self,
        kinds_hit: set[str],
        geometry: tuple[Verification, bool] | None,
        *,
        has_features: bool,
        distances: Mapping[str, int],
    ) -> bool:
        """Same picture when the keypoints agree geometrically, or when PDQ alone is within its
        threshold (thumbnails too small for keypoints). Without stored keypoints (hash-only
        imports) any hash kind within its threshold decides, as hash-sharing lists intend."""
        if geometry is not None:
            return True
        if "pdq" in kinds_hit and distances.get("pdq", 256) <= self.max_distances["pdq"]:
            return True
        return bool(kinds_hit) and not has_features


def _with_agreement(
    query: QueryFingerprint,
    pixels: QueryPixels,
    match: Match,
    geometry: tuple[Verification, bool],
    reference: Features | None,
    preview: Thumbnail | None,
) -> tuple[Match, float | None]:
    """``match`` with its pixel agreement in its evidence (and reported), and the agreement;
    unchanged, with None, when the reference or the query has no preview to compare."""
    features = query.fingerprint.features  # never None with a preview (only keypoints make one)
    theirs = thumbnail_pixels(preview) if preview is not None else None
    if theirs is None or features is None or reference is None or reference.width == 0:
        return match, None
    verification, mirrored = geometry
    matrix = mirror_affine(verification.matrix, features.width) if mirrored else verification.matrix
    agreement = pixel_agreement(pixels, matrix, theirs, theirs.shape[1] / reference.width)
    if agreement is None:
        return match, None
    score = evidence(match.distances, verification, agreement.correlation, agreement.colour_shift)
    shown = round(agreement.correlation, 3)
    return replace(match, evidence=score, pixel_agreement=shown), agreement.correlation


def _mirrored_first(votes: tuple[int, int] | None, transform: str) -> bool:
    """Whether the mirrored query is the likelier orientation: it drew more keypoint votes, or
    (for items found by hash alone) its hash is the nearest. A game's HUD is often symmetric, so
    the unmirrored query of a mirrored frame still verifies on the HUD alone; trying the likelier
    orientation first keeps that partial agreement from standing in for the whole picture."""
    if votes is not None and votes[0] != votes[1]:
        return votes[1] > votes[0]
    return transform.endswith("mirrored")


def _strongest(votes: Iterable[VoteArrays]) -> float:
    """The highest score any item drew from these keypoint sets (0 without votes)."""
    return max((float(v.scores.max()) for v in votes if len(v.scores)), default=0.0)


def _joined(*sets: Features | None) -> Features | None:
    """One keypoint set of the sets given (None when all are None): a query verifies with all
    the keypoints it has in one orientation at once."""
    present = [features for features in sets if features is not None]
    if not present:
        return None
    joined = present[0]
    for extra in present[1:]:
        joined = joined + extra
    return joined


def _verify_both(
    query: QueryFingerprint,
    reference: Features | None,
    min_inliers: int,
    votes: tuple[int, int] | None = None,
    transform: str = "original",
) -> tuple[Verification, bool] | None:
    """Verify the query in its likelier orientation, then in the other unless the first agreed
    clearly; (result, mirrored?) of the better one. ``votes`` (as is, mirrored) of an item found
    by keypoint retrieval: an orientation with fewer than ``MIN_VOTES`` is not worth verifying,
    as an item with fewer is not worth retrieving."""
    if reference is None or query.fingerprint.features is None:
        return None
    best: tuple[Verification, bool] | None = None
    as_is = _joined(query.fingerprint.features, query.inner_features, query.zoomed_features)
    flipped = _joined(query.mirrored_features, query.mirrored_zoomed_features)
    orientations = [(as_is, False), (flipped, True)]
    if _mirrored_first(votes, transform):
        orientations.reverse()
    for features, mirrored in orientations:
        if features is None or (votes is not None and votes[mirrored] < MIN_VOTES):
            continue
        if best is not None and best[0].inliers >= 2 * min_inliers:
            break  # clearly the same picture this way round: no need to try the other
        found = verify(features, reference, min_inliers)
        if found is None:
            continue
        if mirrored:
            x, y, w, h = found.query_box
            found = replace(found, query_box=(1.0 - x - w, y, w, h))
        if best is None or found.inliers > best[0].inliers:
            best = (found, mirrored)
    return best
