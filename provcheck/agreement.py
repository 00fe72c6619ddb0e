"""Pixel agreement: does the query look like the reference where the keypoints say it lies?

Keypoints decide *whether* a query is part of a reference; among the frames of one video they
often cannot decide *which* frame. A crop of a strategy map or a scrolling shooter verifies
against many frames that share its tiles, HUD and background, with as many inliers as the frame
it came from, because the keypoints that would tell them apart (a unit that moved, a ship that
flew on) are few and often fail the ratio test on repeated texture. The pixels still tell them
apart: aligned by the verified transform, the true frame agrees with the query everywhere, a
neighbouring frame everywhere but where something moved.

Computed at the reference preview's scale (``provcheck.thumbnail``, 160 px): coarse, but a moved
sprite or vehicle covers several preview pixels. Pure numpy/OpenCV on arrays the caller holds.
"""

from __future__ import annotations

import numpy as np

from provcheck.verify import Affine

#: Fewest overlapping pixels worth comparing: below it a correlation is noise.
MIN_PIXELS = 64


def mirror_affine(matrix: Affine, width: int) -> Affine:
    """``matrix`` (from the mirrored picture) applied to the unmirrored one: x -> width - 1 - x
    first. So one matrix always maps the query as posted."""
    a, b, tx, c, d, ty = matrix
    return (-a, b, a * (width - 1) + tx, -c, d, c * (width - 1) + ty)


def pixel_agreement(
    query: np.ndarray,
    query_scale: float,
    matrix: Affine,
    reference: np.ndarray,
    reference_scale: float,
) -> float | None:
    """Correlation (Pearson, -1..1) of the query's and the reference's grey levels over the part
    they share, once the reference is warped onto the query by ``matrix``; None when they share
    too few pixels or one side is flat there.

    ``query`` and ``reference`` are greyscale previews; ``query_scale`` and ``reference_scale``
    their size relative to the working copies ``matrix`` maps between (query working pixels to
    reference working pixels). Correlation, not difference: a re-post's brightness, contrast and
    gamma edits change both the level and the spread of grey values, not where they rise and fall.
    """
    import cv2

    m = np.asarray(matrix, dtype=np.float64).reshape(2, 3)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    # Compare on the coarser of the two grids: query working pixels shown at ``grid`` each.
    grid = min(query_scale, scale * reference_scale)
    if grid <= 0:
        return None
    height, width = query.shape
    size = (
        max(1, round(width * grid / query_scale)),
        max(1, round(height * grid / query_scale)),
    )
    if size[0] * size[1] < MIN_PIXELS:
        return None
    q = query if size == (width, height) else cv2.resize(query, size, interpolation=cv2.INTER_AREA)
    grid = size[0] * query_scale / width  # as rounded
    # Grid pixel p -> query working x -> reference working m(x) -> its preview's pixel, with
    # pixel centres on integers at every scale (as OpenCV and Pillow resize): a picture resized
    # by s puts pixel i at (i + 0.5) / s - 0.5. Half a pixel off costs a detailed frame 0.1.
    linear, shift = m[:, :2], m[:, 2]
    to_reference = np.empty((2, 3))
    to_reference[:, :2] = reference_scale * linear / grid
    offset = linear @ np.full(2, 0.5 / grid - 0.5) + shift
    to_reference[:, 2] = reference_scale * (offset + 0.5) - 0.5
    flags = cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(reference, to_reference, size, flags=cv2.INTER_LINEAR | flags)
    inside = cv2.warpAffine(
        np.full(reference.shape, 255, np.uint8),
        to_reference,
        size,
        flags=cv2.INTER_NEAREST | flags,
        borderValue=0,
    )
    # The outermost row of the shared part mixes in the border: leave it out.
    mask = cv2.erode(inside, np.ones((3, 3), np.uint8)) > 0
    if int(mask.sum()) < MIN_PIXELS:
        return None
    a = q[mask].astype(np.float64)
    b = warped[mask].astype(np.float64)
    a -= a.mean()
    b -= b.mean()
    spread = float(np.sqrt((a * a).sum() * (b * b).sum()))
    if spread < a.size:  # the product of the two standard deviations is under one grey level
        return None
    return float((a * b).sum() / spread)
