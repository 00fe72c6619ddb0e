"""Ranking: which of several matches comes first. By evidence, not by confidence (which
saturates), with the pixels of a stored preview where the keypoints place the query: among frames
of one video that all verify, they name the frame the query was taken from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from provcheck.matching.agreement import QueryPixels, mirror_affine, pixel_agreement
from provcheck.matching.calibration import evidence
from provcheck.matching.geometry import Verification
from provcheck.matching.match import Match
from provcheck.matching.references import ReferenceSet
from provcheck.signals.fingerprint import QueryFingerprint
from provcheck.signals.keypoints import Features
from provcheck.signals.thumbnail import Thumbnail, thumbnail_pixels


def ranking_key(match: Match) -> tuple[bool, float, int, int, str, int]:
    """Best first: a byte-identical reference, then the most evidence, the most inliers, the
    nearest hashes; the database and item id make the order total."""
    return (
        not match.identical_file,
        -match.evidence,
        -match.inliers,
        sum(match.distances.values()),
        match.database,
        match.item.id,
    )


def rank_by_pixels(
    ref: ReferenceSet,
    query: QueryFingerprint,
    pixels: QueryPixels,
    found: list[Match],
    verified_by: Mapping[int, tuple[Verification, bool]],
    stored: Mapping[int, Features],
) -> tuple[list[Match], float | None]:
    """Add each verified match's pixel agreement (``provcheck.matching.agreement``) to its
    evidence, where the reference has a preview: among frames of one video that all verify, it
    names the frame the query was taken from. References without previews (the bundled pack ships
    none) keep their evidence as it was. Also returns the best agreement (None: no preview said
    anything)."""
    with ref.store_lock:
        previews = ref.store.thumbnails(verified_by)
    out = []
    best: float | None = None
    for match in found:
        item_id = match.item.id
        if item_id not in verified_by:
            out.append(match)
            continue
        scored, agreement = with_agreement(
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


def with_agreement(
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
