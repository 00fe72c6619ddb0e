"""The faster hashing paths give the same hashes as the straightforward ones."""

from __future__ import annotations

from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image, ImageDraw

from provcheck.signals.fingerprint import fingerprint, query_fingerprint
from provcheck.signals.hashes import Hash, PHasher

DEVSET = Path(__file__).resolve().parents[2] / "shared" / "devset" / "frames"


def _synthetic(seed: int) -> Image.Image:
    """A picture with shapes and texture at several scales (not flat: pHash needs content)."""
    rng = np.random.default_rng(seed)
    size = (int(rng.integers(40, 700)), int(rng.integers(40, 700)))
    noise = rng.integers(0, 256, (size[1] // 8 + 1, size[0] // 8 + 1, 3), dtype=np.uint8)
    image = Image.fromarray(noise).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
        x1, y1 = x0 + int(rng.integers(1, size[0])), y0 + int(rng.integers(1, size[1]))
        draw.rectangle((x0, y0, x1, y1), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return image


def _reference_phash(image: Image.Image) -> Hash:
    return Hash.from_bit_vector("phash", imagehash.phash(image).hash.flatten())


@pytest.mark.parametrize("seed", range(40))
def test_phash_equals_imagehash_on_synthetic_pictures(seed: int) -> None:
    image = _synthetic(seed)
    assert PHasher().compute(image) == _reference_phash(image)


def test_phash_equals_imagehash_on_real_frames() -> None:
    frames = sorted(DEVSET.glob("*/*.jpg"))
    if not frames:
        pytest.skip("devset not present")
    for path in frames:
        with Image.open(path) as opened:
            image = opened.convert("RGB")
        assert PHasher().compute(image) == _reference_phash(image), path.name


def test_query_fingerprint_reuses_the_plain_hashes() -> None:
    image = _synthetic(99)
    query = query_fingerprint(image)
    plain = fingerprint(image)
    assert query.fingerprint.hashes == plain.hashes
    assert query.fingerprint.quality == plain.quality
    for kind, hashes in query.variants.items():
        assert hashes[0] == plain.hashes[kind]
    assert len(query.variants["pdq"]) == 8
    assert len(query.variants["phash"]) == 2
