"""A picture's fingerprint: every registered hash, PDQ's quality and ORB keypoints; and for a
query, what it searches with beyond that (mirrored and rotated hash variants, the mirror image's
and a shrunk copy's keypoints, the picture found inside it, a colour preview).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from provcheck.signals.detail import is_flat
from provcheck.signals.hashes import (
    MIN_QUALITY,
    WORKING_SIZE,
    Hash,
    PdqHasher,
    iter_hashers,
)
from provcheck.signals.keypoints import (
    QUERY_FEATURES,
    REFERENCE_FEATURES,
    Features,
    extract,
    extract_region,
    extract_scaled,
)

#: Longest side of the colour preview a query keeps for ``matching.agreement``: twice the stored
#: reference previews, so the picture inside a screenshot (half the screen) still meets them at
#: their own scale.
QUERY_PREVIEW_SIDE = 320

#: How much larger than in its reference a crop's content is assumed to be for the query's extra
#: keypoints (``QueryFingerprint.zoomed_features``): 2 for a 50% crop, and ORB's own pyramid
#: (steps of 1.2) covers the zooms in between from either side.
CROP_ZOOM = 2.0
#: How many of those keypoints a query keeps.
ZOOMED_FEATURES = 300


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Everything provcheck stores about one picture's look: one hash per kind, PDQ's quality,
    and local features (keypoints) for partial matches."""

    hashes: Mapping[str, Hash]
    quality: int
    features: Features | None = None
    #: Nothing to compare at all (``detail.is_flat``): one colour, a black frame, noise.
    flat: bool = False

    @property
    def sufficient(self) -> bool:
        """Detailed enough for its hashes alone to decide (PDQ quality >= ``MIN_QUALITY``). A
        picture below it is still compared, but matched only on strong, specific evidence
        (``matching.calibration.is_same_picture``)."""
        return self.quality >= MIN_QUALITY and not self.flat


@dataclass(frozen=True, slots=True)
class QueryFingerprint:
    """A fingerprint plus what a query searches with beyond it: mirrored/rotated hash variants,
    the features of the mirrored picture, and hashes of the picture found inside the query
    (borders trimmed, or the photo inside a screenshot) when that differs from the whole."""

    fingerprint: Fingerprint
    variants: Mapping[str, list[Hash]]
    mirrored_features: Features | None = None
    inner_variants: Mapping[str, list[Hash]] | None = None
    inner_box: tuple[float, float, float, float] | None = None  # fractions [x, y, w, h]
    #: Keypoints of that inner picture detected at the references' scale, in query coordinates.
    inner_features: Features | None = None
    #: The working copy's RGB pixels, at most ``QUERY_PREVIEW_SIDE`` pixels on its longer side,
    #: for comparing with reference previews where the keypoints place the query.
    preview: np.ndarray | None = None
    #: Keypoints detected on a copy shrunk by ``CROP_ZOOM`` (``features.extract_scaled``), in
    #: query coordinates: a 50% crop meets the references' keypoints at their own scale.
    zoomed_features: Features | None = None
    #: The same for the mirror image, in its coordinates (those of ``mirrored_features``): a
    #: re-post that flips a crop is a crop too.
    mirrored_zoomed_features: Features | None = None

    @property
    def preview_scale(self) -> float:
        """The preview's size relative to the working copy (the keypoints' frame)."""
        features = self.fingerprint.features
        if self.preview is None or features is None or features.width == 0:
            return 0.0
        return self.preview.shape[1] / features.width


def fingerprint(image: Image.Image, keypoints: int = REFERENCE_FEATURES) -> Fingerprint:
    """Hash a working-size RGB image with every registered hasher, and find its keypoints."""
    pdq = PdqHasher()
    pdq_hash, quality = pdq.compute_with_quality(image)
    hashes: dict[str, Hash] = {pdq.name: pdq_hash}
    for hasher in iter_hashers():
        if hasher.name not in hashes:
            hashes[hasher.name] = hasher.compute(image)
    flat = is_flat(image)
    features = extract(image, keypoints) if keypoints and not flat else None
    return Fingerprint(hashes=hashes, quality=quality, features=features, flat=flat)


def query_fingerprint(image: Image.Image, keypoints: bool = True) -> QueryFingerprint:
    """The fingerprint and its variants (each variant list starts with the plain hash, so the
    image is not hashed twice), keypoints of the picture and of its mirror image, and the hashes
    of the picture found inside the query when that differs from the whole."""
    from provcheck.signals.inner_picture import inner_box

    pdq_variants, quality = PdqHasher().variants_with_quality(image)
    variants: dict[str, list[Hash]] = {PdqHasher.name: pdq_variants}
    for hasher in iter_hashers():
        if hasher.name not in variants:
            variants[hasher.name] = hasher.variants(image)
    flat = is_flat(image)
    features = extract(image, QUERY_FEATURES) if keypoints and not flat else None
    base = Fingerprint(
        {name: hashes[0] for name, hashes in variants.items()}, quality, features, flat
    )
    mirrored, preview, zoomed, mirrored_zoomed = None, None, None, None
    if features is not None:
        flipped = ImageOps.mirror(image)
        mirrored = extract(flipped, QUERY_FEATURES)
        preview = _preview(image)
        zoomed = extract_scaled(image, 1 / CROP_ZOOM, ZOOMED_FEATURES)
        mirrored_zoomed = extract_scaled(flipped, 1 / CROP_ZOOM, ZOOMED_FEATURES)
    box = inner_box(image) if not flat else None
    if box is None:
        return QueryFingerprint(
            base,
            variants,
            mirrored,
            preview=preview,
            zoomed_features=zoomed,
            mirrored_zoomed_features=mirrored_zoomed,
        )
    inner = image.crop(box)
    width, height = image.size
    fractions = (
        box[0] / width,
        box[1] / height,
        (box[2] - box[0]) / width,
        (box[3] - box[1]) / height,
    )
    inner_variants = {hasher.name: hasher.variants(inner) for hasher in iter_hashers()}
    inner_features = (
        extract_region(image, box, QUERY_FEATURES, WORKING_SIZE) if features is not None else None
    )
    return QueryFingerprint(
        base,
        variants,
        mirrored,
        inner_variants,
        fractions,
        inner_features,
        preview,
        zoomed,
        mirrored_zoomed,
    )


def _preview(image: Image.Image) -> np.ndarray:
    small = image.convert("RGB")
    if max(small.size) > QUERY_PREVIEW_SIDE:
        small.thumbnail((QUERY_PREVIEW_SIDE, QUERY_PREVIEW_SIDE), Image.Resampling.BILINEAR)
    return np.asarray(small)
