"""Perceptual hashes: small value objects, hashers that declare their contract as data, a registry.

A new hash kind is one class with a ``compute`` method registered under a stable name; the name is
what the database stores, so it must never change once released.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import ClassVar, Protocol

import numpy as np
from PIL import Image, ImageOps

from provcheck.features import (
    QUERY_FEATURES,
    REFERENCE_FEATURES,
    Features,
    extract,
    extract_region,
    extract_scaled,
)
from provcheck.heap import keep_hashing_buffers

#: Side, in pixels, of the working copy every hasher sees. PDQ downsamples to 64x64 and pHash
#: to 32x32, so more pixels than this only cost decode time (see media.decode_image's draft).
WORKING_SIZE = 512

#: Longest side of the colour preview a query keeps for ``provcheck.agreement``: twice the stored
#: reference previews, so the picture inside a screenshot (half the screen) still meets them at
#: their own scale.
QUERY_PREVIEW_SIDE = 320

#: How much larger than in its reference a crop's content is assumed to be for the query's extra
#: keypoints (``QueryFingerprint.zoomed_features``): 2 for a 50% crop, and ORB's own pyramid
#: (steps of 1.2) covers the zooms in between from either side.
CROP_ZOOM = 2.0
#: How many of those keypoints a query keeps.
ZOOMED_FEATURES = 300

#: PDQ quality (0-100, a normalised gradient sum) below which an image is "insufficient": too
#: flat or dark for any hash to say something. Meta's PDQ docs advise discarding hashes below 50.
MIN_QUALITY = 50


@dataclass(frozen=True, slots=True)
class Hash:
    """One perceptual hash. ``bits`` are packed most-significant bit first, so ``hex`` matches the
    canonical PDQ / imagehash text form used by hash-sharing programmes."""

    kind: str
    bits: bytes

    def __sub__(self, other: Hash) -> int:
        if other.kind != self.kind or len(other.bits) != len(self.bits):
            raise ValueError(f"cannot compare a {self.kind} hash with a {other.kind} hash")
        a = np.frombuffer(self.bits, dtype=np.uint8)
        b = np.frombuffer(other.bits, dtype=np.uint8)
        return int(np.bitwise_count(a ^ b).sum())

    @property
    def hex(self) -> str:
        return self.bits.hex()

    @classmethod
    def from_hex(cls, kind: str, text: str) -> Hash:
        hasher = get_hasher(kind)
        text = text.strip().lower()
        if len(text) != hasher.bits // 4:
            raise ValueError(f"a {kind} hash has {hasher.bits // 4} hex digits, got {len(text)}")
        try:
            return cls(kind, bytes.fromhex(text))
        except ValueError:
            raise ValueError(f"not a hexadecimal {kind} hash: {text[:70]!r}") from None

    @classmethod
    def from_bit_vector(cls, kind: str, vector: np.ndarray) -> Hash:
        return cls(kind, np.packbits(np.asarray(vector, dtype=np.uint8)).tobytes())


class Hasher(Protocol):
    """How to hash one kind, and its contract: size in bits and the default match threshold."""

    name: ClassVar[str]
    bits: ClassVar[int]
    #: Largest Hamming distance still counted as the same picture at the defaults.
    max_distance: ClassVar[int]

    def compute(self, image: Image.Image) -> Hash: ...

    def variants(self, image: Image.Image) -> list[Hash]:
        """The hash of the image and of its mirror images (and, where free, 90-degree rotations),
        so a query finds references that were flipped before re-posting. The first is always
        ``compute(image)``: ``query_fingerprint`` relies on it."""
        ...


def _as_rgb_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB") if image.mode != "RGB" else image)


def _pdqhash() -> ModuleType:
    """pdqhash, imported on first use, with the heap set up for its ~1.2 MB temporaries (see
    ``provcheck.heap``: without it each hash of a working copy page-faults ~2.8 MB afresh)."""
    import pdqhash

    keep_hashing_buffers()
    return pdqhash


class PdqHasher:
    """Meta's PDQ: 256 bits, built for exactly this job and exchanged between platforms."""

    name: ClassVar[str] = "pdq"
    bits: ClassVar[int] = 256
    max_distance: ClassVar[int] = 31  # Meta's documented PDQ match threshold

    def compute(self, image: Image.Image) -> Hash:
        return self.compute_with_quality(image)[0]

    def compute_with_quality(self, image: Image.Image) -> tuple[Hash, int]:
        vector, quality = _pdqhash().compute(_as_rgb_array(image))
        return Hash.from_bit_vector(self.name, vector), int(quality)

    def variants(self, image: Image.Image) -> list[Hash]:
        """PDQ's eight dihedral hashes, in pdqhash's order, the original first."""
        return self.variants_with_quality(image)[0]

    def variants_with_quality(self, image: Image.Image) -> tuple[list[Hash], int]:
        """The eight dihedral hashes, the original first (equal to ``compute``'s), and quality.

        The mirrored one is hashed from real mirrored pixels: PDQ derives the others in the hash
        domain, which for a mirror lands ~21 bits (up to 38 on the devset) from hashing the
        mirrored image; rotations by 90 degrees are rare enough to keep the derived ones."""
        vectors, quality = _pdqhash().compute_dihedral(_as_rgb_array(image))
        hashes = [Hash.from_bit_vector(self.name, v) for v in vectors]
        hashes[5] = self.compute(ImageOps.mirror(image))
        return hashes, int(quality)


#: The eight lowest rows of the unnormalised DCT-II matrix for 32 samples (scipy.fftpack.dct's
#: definition): pHash keeps only the 8x8 lowest frequencies, so two small matrix products replace
#: two full 32-point transforms, and scipy (a third of a second to import) stays unloaded.
_PHASH_DCT = 2.0 * np.cos(np.pi * np.arange(8)[:, None] * (2 * np.arange(32)[None, :] + 1) / 64)


class PHasher:
    """imagehash's DCT pHash: 64 bits, the hash most OSINT tooling already speaks.

    Computed as ``imagehash.phash`` computes it (greyscale, Lanczos to 32x32, DCT on both axes,
    low 8x8 against their median), bit for bit on real pictures (tests compare the two).
    """

    name: ClassVar[str] = "phash"
    bits: ClassVar[int] = 64
    max_distance: ClassVar[int] = 8

    def compute(self, image: Image.Image) -> Hash:
        small = image.convert("L").resize((32, 32), Image.Resampling.LANCZOS)
        low = _PHASH_DCT @ np.asarray(small, dtype=np.float64) @ _PHASH_DCT.T
        return Hash.from_bit_vector(self.name, (low > np.median(low)).ravel())

    def variants(self, image: Image.Image) -> list[Hash]:
        return [self.compute(image), self.compute(ImageOps.mirror(image))]


_REGISTRY: dict[str, Callable[[], Hasher]] = {
    PdqHasher.name: PdqHasher,
    PHasher.name: PHasher,
}


def hasher_names() -> list[str]:
    return list(_REGISTRY)


def get_hasher(name: str) -> Hasher:
    try:
        return _REGISTRY[name]()
    except KeyError:
        known = ", ".join(_REGISTRY)
        raise ValueError(f"unknown hash kind {name!r} (known: {known})") from None


def iter_hashers() -> Iterator[Hasher]:
    for factory in _REGISTRY.values():
        yield factory()


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Everything provcheck stores about one picture's look: one hash per kind, PDQ's quality,
    and local features (keypoints) for partial matches."""

    hashes: Mapping[str, Hash]
    quality: int
    features: Features | None = None

    @property
    def sufficient(self) -> bool:
        return self.quality >= MIN_QUALITY


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
    features = extract(image, keypoints) if keypoints and quality >= MIN_QUALITY else None
    return Fingerprint(hashes=hashes, quality=quality, features=features)


def query_fingerprint(image: Image.Image, keypoints: bool = True) -> QueryFingerprint:
    """The fingerprint and its variants (each variant list starts with the plain hash, so the
    image is not hashed twice), keypoints of the picture and of its mirror image, and the hashes
    of the picture found inside the query when that differs from the whole."""
    from provcheck.normalize import inner_box

    pdq_variants, quality = PdqHasher().variants_with_quality(image)
    variants: dict[str, list[Hash]] = {PdqHasher.name: pdq_variants}
    for hasher in iter_hashers():
        if hasher.name not in variants:
            variants[hasher.name] = hasher.variants(image)
    sufficient = quality >= MIN_QUALITY
    features = extract(image, QUERY_FEATURES) if sufficient and keypoints else None
    base = Fingerprint({name: hashes[0] for name, hashes in variants.items()}, quality, features)
    mirrored, preview, zoomed, mirrored_zoomed = None, None, None, None
    if features is not None:
        flipped = ImageOps.mirror(image)
        mirrored = extract(flipped, QUERY_FEATURES)
        preview = _preview(image)
        zoomed = extract_scaled(image, 1 / CROP_ZOOM, ZOOMED_FEATURES)
        mirrored_zoomed = extract_scaled(flipped, 1 / CROP_ZOOM, ZOOMED_FEATURES)
    box = inner_box(image) if sufficient else None
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
