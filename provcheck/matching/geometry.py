"""Geometric verification: do two pictures' keypoints agree on one similarity transform?

More hashes per image must not mean more false alarms. A candidate counts as the same picture only
when enough descriptor matches (mutual best, ratio-tested) agree on a single rotation + scale +
translation, spread over the picture rather than piled on one logo or one HUD corner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from provcheck.search.nearest import MISSING, two_nearest
from provcheck.signals.keypoints import Features

#: Lowe's ratio test: the best match must be clearly better than the second best.
RATIO = 0.75
#: Descriptor distance (of 256 bits) above which two keypoints are not the same point.
MAX_DESCRIPTOR_DISTANCE = 64
#: RANSAC reprojection tolerance, as a fraction of the reference frame's longer side.
REPROJECTION = 0.008
#: Plausible scale between query and reference working copies (a 25% thumbnail to a 4x detail).
SCALE_RANGE = (0.15, 6.0)
#: Largest rotation accepted: re-posts tilt pictures a little, never by tens of degrees.
MAX_ROTATION_DEG = 20.0
#: Inliers must spread over at least this share of the matched area (std-box / bounding box).
MIN_SPREAD = 0.08

Box = tuple[float, float, float, float]
#: A 2x3 affine matrix, row by row: (a, b, tx, c, d, ty) maps (x, y) to (ax+by+tx, cx+dy+ty).
Affine = tuple[float, float, float, float, float, float]


@dataclass(frozen=True, slots=True)
class Verification:
    inliers: int
    matches: int
    scale: float
    rotation_deg: float
    query_box: Box  # matched region in the query, fractions [x, y, w, h]
    reference_box: Box  # matched region in the reference, fractions [x, y, w, h]
    #: Query working-copy pixels -> reference working-copy pixels (for ``matching.agreement``).
    matrix: Affine = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def _mutual_matches(query: Features, reference: Features) -> tuple[np.ndarray, np.ndarray]:
    """Ratio-tested nearest-neighbour pairs, at most one per reference keypoint (its closest
    query keypoint; of equals, the first). Pairs come in the order of their first claimant among
    the query's keypoints: RANSAC samples by position, so the order is part of the result."""
    nearest, first, second = two_nearest(query.descriptors, reference.descriptors)
    claimant = np.flatnonzero(
        (second != MISSING) & (first <= MAX_DESCRIPTOR_DISTANCE) & (first < RATIO * second)
    )
    if len(claimant) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    # Claimants grouped by the reference keypoint they claim, closest (then earliest) first.
    order = np.lexsort((claimant, first[claimant], nearest[claimant]))
    claimant, owned = claimant[order], nearest[claimant[order]]
    runs = np.flatnonzero(np.r_[True, owned[1:] != owned[:-1]])
    shown = np.argsort(np.minimum.reduceat(claimant, runs), kind="stable")  # earliest claimant
    return claimant[runs][shown], owned[runs][shown]


def _box(points: np.ndarray, width: int, height: int) -> Box:
    lo = np.clip(points.min(axis=0), 0, [width, height])
    hi = np.clip(points.max(axis=0), 0, [width, height])
    return (
        float(lo[0] / width),
        float(lo[1] / height),
        float((hi[0] - lo[0]) / width),
        float((hi[1] - lo[1]) / height),
    )


def _frame(width: int, height: int) -> np.ndarray:
    return np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)


def _plausible(scale: float, rotation: float, inliers: np.ndarray) -> bool:
    """A re-post scales and tilts a little, and a real match spreads over the picture; a chance
    consensus tends to a wild scale, a large turn, or a pile of points on one spot."""
    if not SCALE_RANGE[0] <= scale <= SCALE_RANGE[1] or abs(rotation) > MAX_ROTATION_DEG:
        return False
    extent = inliers.max(axis=0) - inliers.min(axis=0) + 1.0
    spread = float(np.sqrt(np.prod(inliers.std(axis=0) + 1e-6) / np.prod(extent)))
    return spread >= MIN_SPREAD


def verify(query: Features, reference: Features, min_inliers: int = 4) -> Verification | None:
    """The transform mapping ``query`` onto ``reference``, or None when they do not agree."""
    import cv2

    if len(query) < min_inliers or len(reference) < min_inliers:
        return None
    q_idx, r_idx = _mutual_matches(query, reference)
    if len(q_idx) < min_inliers:
        return None
    src = query.points[q_idx].astype(np.float32)
    dst = reference.points[r_idx].astype(np.float32)
    tolerance = REPROJECTION * max(reference.width, reference.height)
    matrix, mask = cv2.estimateAffinePartial2D(
        src,
        dst,
        method=cv2.RANSAC,
        ransacReprojThreshold=max(tolerance, 2.0),
        maxIters=1000,
        confidence=0.995,
    )
    if matrix is None or mask is None:
        return None
    inlier = mask.ravel().astype(bool)
    count = int(inlier.sum())
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    rotation = float(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))
    if count < min_inliers or not _plausible(scale, rotation, src[inlier]):
        return None
    # Matched region: each frame clipped to the part the other one covers.
    forward = cv2.transform(_frame(query.width, query.height)[None], matrix)[0]
    inverse = cv2.invertAffineTransform(matrix)
    backward = cv2.transform(_frame(reference.width, reference.height)[None], inverse)[0]
    return Verification(
        inliers=count,
        matches=len(q_idx),
        scale=scale,
        rotation_deg=rotation,
        query_box=_box(backward, query.width, query.height),
        reference_box=_box(forward, reference.width, reference.height),
        matrix=tuple(float(v) for v in matrix.ravel()),  # type: ignore[arg-type]
    )
