"""Every hasher passes the same conformance checks (stability, sensitivity, text round trip)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from provcheck.signals.fingerprint import fingerprint, query_fingerprint
from provcheck.signals.hashes import MIN_QUALITY, Hash, get_hasher, hasher_names
from tests.conftest import synthetic_picture


def _reencode(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


@pytest.mark.parametrize("kind", hasher_names())
class TestHasherConformance:
    def test_contract_is_data(self, kind):
        hasher = get_hasher(kind)
        assert hasher.name == kind
        assert hasher.bits % 64 == 0
        assert 0 < hasher.max_distance < hasher.bits // 4

    def test_stable_under_reencoding(self, kind):
        hasher = get_hasher(kind)
        image = synthetic_picture(1)
        assert hasher.compute(image) - hasher.compute(_reencode(image, 60)) <= hasher.max_distance

    def test_sensitive_to_different_content(self, kind):
        hasher = get_hasher(kind)
        a, b = hasher.compute(synthetic_picture(1)), hasher.compute(synthetic_picture(2))
        assert a - b > hasher.max_distance

    def test_text_round_trip(self, kind):
        h = get_hasher(kind).compute(synthetic_picture(3))
        assert len(h.hex) == get_hasher(kind).bits // 4
        assert Hash.from_hex(kind, h.hex) == h
        assert Hash.from_hex(kind, h.hex.upper()) == h

    def test_mirror_is_among_query_variants(self, kind):
        hasher = get_hasher(kind)
        image = synthetic_picture(4)
        mirrored_ref = hasher.compute(ImageOps.mirror(image))
        assert min(v - mirrored_ref for v in hasher.variants(image)) <= 2


def test_pdq_hex_is_canonical_bit_order():
    """Most significant bit first, as Meta's tools and hash-sharing lists write PDQ."""
    bits = np.zeros(256, dtype=np.uint8)
    bits[0] = 1
    assert Hash.from_bit_vector("pdq", bits).hex == "8" + "0" * 63


def test_from_hex_rejects_wrong_length_and_digits():
    with pytest.raises(ValueError, match="64 hex digits"):
        Hash.from_hex("pdq", "abc")
    with pytest.raises(ValueError, match="hexadecimal"):
        Hash.from_hex("pdq", "z" * 64)
    with pytest.raises(ValueError, match="unknown hash kind"):
        Hash.from_hex("md5", "0" * 32)


def test_cannot_compare_different_kinds():
    with pytest.raises(ValueError, match="cannot compare"):
        _ = Hash("pdq", bytes(32)) - Hash("phash", bytes(8))


def test_flat_images_are_insufficient_detailed_ones_are_not():
    flat = Image.new("RGB", (200, 200), (12, 12, 12))
    assert not fingerprint(flat).sufficient
    assert fingerprint(flat).quality < MIN_QUALITY
    assert fingerprint(synthetic_picture(5)).sufficient


def test_query_fingerprint_has_eight_pdq_variants_first_is_the_plain_hash():
    q = query_fingerprint(synthetic_picture(6))
    assert len(q.variants["pdq"]) == 8
    assert q.variants["pdq"][0] == q.fingerprint.hashes["pdq"]
    assert q.variants["phash"][0] == q.fingerprint.hashes["phash"]
