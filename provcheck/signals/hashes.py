"""Perceptual hashes: small value objects, hashers that declare their contract as data, a registry.

A new hash kind is one class with a ``compute`` method registered under a stable name; the name is
what the database stores, so it must never change once released.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import ClassVar, Protocol

import numpy as np
from PIL import Image, ImageOps

from provcheck.signals.heap import keep_hashing_buffers

#: Side, in pixels, of the working copy every hasher sees. PDQ downsamples to 64x64 and pHash
#: to 32x32, so more pixels than this only cost decode time (see media.decode_image's draft).
WORKING_SIZE = 512

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
    ``signals.heap``: without it each hash of a working copy page-faults ~2.8 MB afresh)."""
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
