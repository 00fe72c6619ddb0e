"""Pixel agreement: does the query look like the reference where the keypoints say it lies?

Keypoints decide *whether* a query is part of a reference; among the frames of one video they
often cannot decide *which* frame. A crop of a strategy map or a scrolling shooter verifies
against many frames that share its tiles, HUD and background, with as many inliers as the frame
it came from, because the keypoints that would tell them apart (a unit that moved, a ship that
flew on) are few and often fail the ratio test on repeated texture. The pixels still tell them
apart: aligned by the verified transform, the true frame agrees with the query everywhere, a
neighbouring frame everywhere but where something moved.

The pixels also say how much the colours had to change. A game's time of day, a weather effect
or a fade tints the same view from one moment to the next; the correlation of grey levels is
blind to that on purpose (a re-post's brightness, contrast and gamma edits change grey levels
too), but among frames that all correlate, the one whose colours the query shows unchanged is
the likelier source. ``Agreement.colour_shift`` measures that tint.

Computed at the reference preview's scale (``signals.thumbnail``, 160 px): coarse, but a moved
sprite or vehicle covers several preview pixels. Pure numpy/OpenCV on arrays the caller holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from provcheck.matching.geometry import Affine

#: Fewest overlapping pixels worth comparing: below it a correlation is noise.
MIN_PIXELS = 64


@dataclass(frozen=True, slots=True)
class Agreement:
    """How the query and a reference preview compare where the keypoints place the query."""

    #: Pearson correlation (-1..1) of their grey levels over the part they share.
    correlation: float
    #: How far apart their colours are there: the median difference of each of R, G and B,
    #: averaged over the three, in units of the full range (0: the same; grey levels only when
    #: either side is grey). A re-post that recolours shifts it for every frame alike;
    #: a tinted neighbouring frame shifts it for that frame alone.
    colour_shift: float


def mirror_affine(matrix: Affine, width: int) -> Affine:
    """``matrix`` (from the mirrored picture) applied to the unmirrored one: x -> width - 1 - x
    first. So one matrix always maps the query as posted."""
    a, b, tx, c, d, ty = matrix
    return (-a, b, a * (width - 1) + tx, -c, d, c * (width - 1) + ty)


class QueryPixels:
    """The query's preview (RGB or grey) and its size relative to the query's working copy,
    resized once per comparison grid: a query's verified references are mostly frames of one
    video, all compared on the same grid."""

    def __init__(self, preview: np.ndarray, scale: float) -> None:
        self.preview = preview
        self.scale = scale
        self._grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def at(self, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The preview at ``size`` (width, height), as it is and in grey levels."""
        found = self._grids.get(size)
        if found is None:
            import cv2

            height, width = self.preview.shape[:2]
            pixels = (
                self.preview
                if size == (width, height)
                else cv2.resize(self.preview, size, interpolation=cv2.INTER_AREA)
            )
            found = self._grids[size] = (pixels, _grey(pixels))
        return found


def pixel_agreement(
    query: QueryPixels,
    matrix: Affine,
    reference: np.ndarray,
    reference_scale: float,
) -> Agreement | None:
    """The query and the reference compared over the part they share, once the reference is
    warped onto the query by ``matrix``; None when they share too few pixels or one side is flat
    there.

    ``reference`` is a preview, RGB (height x width x 3) or grey (height x width), as the query's
    may be; ``query.scale`` and ``reference_scale`` are their sizes relative to the working
    copies ``matrix`` maps between (query working pixels to reference working pixels).
    Correlation, not difference, decides whether the pictures agree: a re-post's brightness,
    contrast and gamma edits change both the level and the spread of grey values, not where they
    rise and fall.
    """
    import cv2

    m = np.asarray(matrix, dtype=np.float64).reshape(2, 3)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    # Compare on the coarser of the two grids: query working pixels shown at ``grid`` each.
    grid = min(query.scale, scale * reference_scale)
    if grid <= 0:
        return None
    height, width = query.preview.shape[:2]
    size = (
        max(1, round(width * grid / query.scale)),
        max(1, round(height * grid / query.scale)),
    )
    if size[0] * size[1] < MIN_PIXELS:
        return None
    pixels, grey = query.at(size)
    if reference.ndim != pixels.ndim:  # one side grey: only grey levels can be compared
        pixels, reference = grey, _grey(reference)
    grid = size[0] * query.scale / width  # as rounded
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
        np.full(reference.shape[:2], 255, np.uint8),
        to_reference,
        size,
        flags=cv2.INTER_NEAREST | flags,
        borderValue=0,
    )
    # The outermost row of the shared part mixes in the border: leave it out.
    mask = cv2.erode(inside, np.ones((3, 3), np.uint8)) > 0
    if int(mask.sum()) < MIN_PIXELS:
        return None
    a = grey[mask].astype(np.float64)
    b = _grey(warped)[mask].astype(np.float64)
    a -= a.mean()
    b -= b.mean()
    spread = float(np.sqrt((a * a).sum() * (b * b).sum()))
    if spread < a.size:  # the product of the two standard deviations is under one grey level
        return None
    # The median difference of each channel, from every other shared pixel of every other row
    # (plenty for a median) unless the shared part is too thin for that: a caption bar or a
    # logo over part of the query moves a mean towards its own colour, not the median.
    step = 2 if int(mask[::2, ::2].sum()) >= MIN_PIXELS // 4 else 1
    sampled = mask[::step, ::step]
    differences = pixels[::step, ::step][sampled].astype(np.int16) - warped[::step, ::step][sampled]
    colour_shift = float(np.abs(np.median(differences, axis=0)).mean()) / 255
    return Agreement(float((a * b).sum() / spread), colour_shift)


def _grey(image: np.ndarray) -> np.ndarray:
    """Grey levels of an RGB or grey picture, weighed as Pillow's "L" conversion (ITU-R 601)."""
    import cv2

    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
