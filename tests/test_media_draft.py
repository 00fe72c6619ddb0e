"""Reduced-size JPEG decoding: as small as the working copy allows, never smaller."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from provcheck.media.images import decode_image, draft_request
from provcheck.signals.hashes import WORKING_SIZE


def _jpeg(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 30)).save(buf, "JPEG", quality=70)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("size", "decoded"),
    [
        ((3840, 2160), (960, 540)),  # 1/8 would be 480 wide: under the working size
        ((4096, 4095), (512, 512)),
        ((8000, 2000), (1000, 250)),  # a panorama decodes at 1/8, not 1/2
        ((2000, 8000), (250, 1000)),
        ((600, 400), (600, 400)),
    ],
)
def test_draft_scale(size: tuple[int, int], decoded: tuple[int, int]) -> None:
    with Image.open(io.BytesIO(_jpeg(*size))) as opened:
        opened.draft("RGB", draft_request(*size, WORKING_SIZE))
        assert opened.size == decoded
        assert max(opened.size) >= min(WORKING_SIZE, max(size))


@pytest.mark.parametrize("size", [(3840, 2160), (8000, 2000), (513, 10), (300, 200)])
def test_working_copy_keeps_its_bound(size: tuple[int, int]) -> None:
    loaded = decode_image(_jpeg(*size), "x.jpg")
    assert (loaded.width, loaded.height) == size
    assert max(loaded.image.size) == min(WORKING_SIZE, max(size))
