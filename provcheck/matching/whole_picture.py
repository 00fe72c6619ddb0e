"""Pixel agreement of two whole pictures: the query's preview against a reference preview, laid
as the hash variant that found the reference says (as it is, mirrored, turned, or the picture
found inside the query).

Keypoints place a query on its reference; a match found by its hashes alone has no such
placement, only the variant. Whole-picture agreement checks such a match where the hashes are
least specific: a regular pattern hashes near another of the same period (two different stripe
patterns, 20 PDQ bits apart), and a soft or low-contrast picture has few hash bits that mean
anything. Correlation of grey levels (brightness, contrast and gamma edits change levels, not
where they rise and fall) and the colour shift, as ``agreement.pixel_agreement`` measures them.
"""

from __future__ import annotations

import numpy as np

from provcheck.matching.agreement import MIN_PIXELS, Agreement

#: Below this spread of a channel difference (grey levels) a preview is taken for grey: a
#: greyscale re-post of a colour reference is compared in grey levels only.
GREY_TOLERANCE = 3


def _laid(preview: np.ndarray, transform: str, inner_box: tuple[float, ...] | None) -> np.ndarray:
    """The query preview laid as the reference lies, for the variant named ``transform`` (see
    ``match.VARIANT_NAMES``: how the query relates to the reference)."""
    if transform.startswith("inner picture"):
        if inner_box is None:
            return preview
        height, width = preview.shape[:2]
        x, y, w, h = inner_box
        preview = preview[
            round(y * height) : max(round((y + h) * height), round(y * height) + 1),
            round(x * width) : max(round((x + w) * width), round(x * width) + 1),
        ]
        transform = "mirrored" if transform.endswith("mirrored") else "original"
    undo = {
        "original": lambda a: a,
        "mirrored": lambda a: a[:, ::-1],
        "flipped vertically": lambda a: a[::-1],
        "rotated 180": lambda a: a[::-1, ::-1],
        # The query is the reference turned 90 degrees clockwise: turn it back.
        "rotated 90 clockwise": lambda a: np.rot90(a, 1),
        "rotated 90 counter-clockwise": lambda a: np.rot90(a, -1),
        "transposed": lambda a: np.swapaxes(a, 0, 1),
        "transversed": lambda a: np.rot90(np.swapaxes(a, 0, 1), 2),
    }
    return np.ascontiguousarray(undo.get(transform, undo["original"])(preview))


def _is_grey(image: np.ndarray) -> bool:
    if image.ndim == 2:
        return True
    channels = image.astype(np.int16)
    red, green, blue = channels[..., 0], channels[..., 1], channels[..., 2]
    spread = np.abs(red - green) + np.abs(green - blue)
    return float(np.percentile(spread, 95)) <= GREY_TOLERANCE


def whole_agreement(
    query_preview: np.ndarray,
    reference_preview: np.ndarray,
    transform: str,
    inner_box: tuple[float, ...] | None = None,
) -> Agreement | None:
    """The query preview, laid by ``transform`` and resized to the reference preview, compared
    with it; None when either is too small or flat."""
    import cv2

    laid = _laid(query_preview, transform, inner_box)
    height, width = reference_preview.shape[:2]
    if laid.size == 0 or width * height < MIN_PIXELS:
        return None
    resized = cv2.resize(laid, (width, height), interpolation=cv2.INTER_AREA)
    ours, theirs = resized, reference_preview
    if _is_grey(ours) or _is_grey(theirs):
        ours, theirs = _grey(ours), _grey(theirs)
    a = _grey(ours).astype(np.float64).ravel()
    b = _grey(theirs).astype(np.float64).ravel()
    a -= a.mean()
    b -= b.mean()
    spread = float(np.sqrt((a * a).sum() * (b * b).sum()))
    if spread < a.size:  # the product of the two standard deviations is under one grey level
        return None
    differences = ours.astype(np.int16) - theirs.astype(np.int16)
    if differences.ndim == 3:
        shift = float(np.abs(np.median(differences.reshape(-1, 3), axis=0)).mean()) / 255
    else:
        shift = abs(float(np.median(differences))) / 255
    return Agreement(float((a * b).sum() / spread), shift)


def _grey(image: np.ndarray) -> np.ndarray:
    import cv2

    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
