"""Verification of one candidate: the query's keypoints (as it is, with its zoomed and inner
sets, and mirrored) against the reference's, through ``geometry.verify``; the likelier
orientation first."""

from __future__ import annotations

from dataclasses import replace

from provcheck.matching.candidates import MIN_VOTES
from provcheck.matching.geometry import Verification, verify
from provcheck.signals.fingerprint import QueryFingerprint
from provcheck.signals.keypoints import Features


def verify_both(
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


def _mirrored_first(votes: tuple[int, int] | None, transform: str) -> bool:
    """Whether the mirrored query is the likelier orientation: it drew more keypoint votes, or
    (for items found by hash alone) its hash is the nearest. A game's HUD is often symmetric, so
    the unmirrored query of a mirrored frame still verifies on the HUD alone; trying the likelier
    orientation first keeps that partial agreement from standing in for the whole picture."""
    if votes is not None and votes[0] != votes[1]:
        return votes[1] > votes[0]
    return transform.endswith("mirrored")


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
