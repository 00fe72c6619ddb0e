"""Candidate retrieval: which reference items of one set are worth judging for a query.

Two ways in: the query's hashes (every variant: mirrored, rotated, the picture inside it) within
each kind's ``max_distance``; and its keypoints, voting for the items that own nearby descriptors
(``provcheck.search.keypoint_index``). Hash candidates are all reported (the hash decides); only
the nearest and the best-voted are verified, and the votes past them are kept in reserve for when
the pixels say that nothing verified is the picture.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from provcheck.matching.match import INNER_PREFIX, VARIANT_NAMES
from provcheck.matching.references import ReferenceSet
from provcheck.search.keypoint_index import VoteArrays
from provcheck.signals.fingerprint import QueryFingerprint
from provcheck.signals.keypoints import Features

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
#: picture (``provcheck.matching.matcher.LOOK_FURTHER_BELOW``): the frame a crop came from can
#: rank past the 24th by votes among look-alike frames. Only references with previews can
#: trigger it; each item costs one or two verifications.
MAX_LOCAL_RESERVE = 48
#: The query's strongest keypoints that vote: retrieval cost grows with them (verify uses all).
QUERY_VOTERS = 300


@dataclass(frozen=True, slots=True)
class QueryCodes:
    """Every hash a query searches with, per kind, and the transform each row stands for."""

    codes: dict[str, np.ndarray]
    names: dict[str, list[str]]

    @classmethod
    def of(cls, query: QueryFingerprint, kinds: Iterable[str]) -> QueryCodes:
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

    def distances(
        self, ref: ReferenceSet, item_id: int, max_distances: Mapping[str, int]
    ) -> tuple[dict[str, int], str]:
        """The item's distance per kind to the nearest query variant, and the transform of the
        variant that is nearest relative to its kind's threshold."""
        distances: dict[str, int] = {}
        best = (float("inf"), "original")
        for kind, variant_codes in self.codes.items():
            found = ref.item_distance(kind, item_id, variant_codes)
            if found is None:
                continue
            distance, variant = found
            distances[kind] = distance
            normalised = distance / max(1, max_distances[kind])  # 0: exact only
            if normalised < best[0]:
                best = (normalised, self.names[kind][variant])
        return distances, best[1]


@dataclass(frozen=True, slots=True)
class Candidates:
    """What to judge in one reference set, in the order to judge it."""

    #: Every candidate (hash candidates, then the verified keypoint-retrieved ones, most votes
    #: first) with the hash kinds that found it (none for keypoint-retrieved items).
    kinds: dict[int, set[str]]
    #: The candidates worth verifying: the nearest hash candidates, then the best-voted.
    verify: list[int]
    #: Votes (as is, mirrored) of the keypoint-retrieved candidates verified at once.
    local: dict[int, tuple[int, int]]
    #: Those past the ``MAX_VERIFIED``-th: verified only until a match is confirmed by its hash.
    deep: frozenset[int]
    #: Every item retrieved by keypoints (``MAX_LOCAL_RESERVE`` at most) with its votes.
    voted: dict[int, tuple[int, int]]
    #: Voted items past ``MAX_LOCAL_VERIFIED`` and no other candidate: verified only on demand.
    reserve: list[int]
    #: The query as it voted (see ``keypoint_candidates``).
    query: QueryFingerprint


def find_candidates(
    ref: ReferenceSet, query: QueryFingerprint, q: QueryCodes, max_distances: Mapping[str, int]
) -> Candidates:
    kinds, verify = hash_candidates(ref, q, max_distances)
    voted, query = keypoint_candidates(ref, query)
    local = dict(list(voted.items())[:MAX_LOCAL_VERIFIED])
    for item_id in local:
        kinds.setdefault(item_id, set())
        verify.append(item_id)
    reserve = [i for i in list(voted)[MAX_LOCAL_VERIFIED:] if i not in kinds]
    deep = frozenset(list(local)[MAX_VERIFIED:])
    return Candidates(kinds, verify, local, deep, voted, reserve, query)


def hash_candidates(
    ref: ReferenceSet, q: QueryCodes, max_distances: Mapping[str, int]
) -> tuple[dict[int, set[str]], list[int]]:
    """Items within a kind's ``max_distance`` of any query hash (with the kinds that hit), and
    the nearest ``MAX_VERIFIED`` of them, nearest first: the ones worth verifying."""
    candidates: dict[int, set[str]] = {}
    nearest: dict[int, float] = {}
    for kind, variant_codes in q.codes.items():
        if kind not in ref.indexes:
            continue
        index, arrays = ref.indexes[kind], ref.arrays[kind]
        scale = max(1, max_distances[kind])
        for hits in index.query_many(variant_codes, max_distances[kind]):
            for item_id, d in zip(
                arrays.item_ids[hits.rows].tolist(), hits.distances.tolist(), strict=True
            ):
                candidates.setdefault(item_id, set()).add(kind)
                nearest[item_id] = min(d / scale, nearest.get(item_id, float("inf")))
    ranked = sorted(nearest, key=lambda i: (nearest[i], i))[:MAX_VERIFIED]
    return candidates, ranked


def keypoint_candidates(
    ref: ReferenceSet, query: QueryFingerprint
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


def _strongest(votes: Iterable[VoteArrays]) -> float:
    """The highest score any item drew from these keypoint sets (0 without votes)."""
    return max((float(v.scores.max()) for v in votes if len(v.scores)), default=0.0)
