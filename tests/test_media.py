"""Hostile and broken files: each fails with one line naming the file, never a crash."""

from __future__ import annotations

import io
import os
import struct
import zlib

import pytest
from PIL import Image

from provcheck.errors import InputError
from provcheck.media.images import decode_image, load_image
from provcheck.signals.hashes import WORKING_SIZE


def test_real_still_loads_to_a_working_copy(stills):
    loaded = load_image(stills["wesnoth"])
    assert (loaded.width, loaded.height) == (480, 270)
    assert max(loaded.image.size) <= WORKING_SIZE
    assert loaded.image.mode == "RGB"
    assert len(loaded.sha256) == 64


def test_large_image_is_reduced_but_keeps_its_true_size(make_picture):
    path = make_picture("big.jpg", 1, size=(2400, 1600), quality=90)
    loaded = load_image(path)
    assert (loaded.width, loaded.height) == (2400, 1600)
    assert max(loaded.image.size) == WORKING_SIZE


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (300, 100), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    assert load_image(path).image.size == (100, 300)


def test_transparent_png_is_flattened_on_white(tmp_path):
    path = tmp_path / "alpha.png"
    Image.new("RGBA", (50, 50), (0, 0, 0, 0)).save(path)
    assert load_image(path).image.getpixel((10, 10)) == (255, 255, 255)


def test_wrong_extension_is_sniffed(make_picture, tmp_path):
    png = make_picture("really-a-png.jpg", 2, format="PNG")
    assert load_image(png).width == 320


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"this is not an image at all" * 10, "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image|corrupt"),
    ],
)
def test_bad_bytes(tmp_path, content, message):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        load_image(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_truncated_jpeg(make_picture):
    path = make_picture("whole.jpg", 3, size=(640, 480), quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"truncated|corrupt"):
        load_image(path)


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [12_000, 60_000])  # over the warning limit, over twice it
def test_decompression_bomb_is_refused_before_decoding(side):
    with pytest.raises(InputError, match="too large to decode safely"):
        decode_image(_png_header_only(side, side), "bomb.png")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(InputError, match="folder"):
        load_image(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file(make_picture):
    path = make_picture("locked.jpg", 4)
    path.chmod(0)
    try:
        with pytest.raises(InputError, match="permission denied"):
            load_image(path)
    finally:
        path.chmod(0o644)


def test_gif_first_frame(tmp_path):
    frames = [Image.new("P", (64, 64), i) for i in (10, 200)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    assert decode_image(buffer.getvalue(), "anim.gif").width == 64


def test_permission_error_is_reported_even_as_root(make_picture, monkeypatch):
    """Root can read anything, so simulate what an ordinary user meets on a locked file."""
    path = make_picture("locked2.jpg", 5)

    real_open = os.open

    def refuse(name, *args, **kwargs):
        if os.fspath(name) == os.fspath(path):
            raise PermissionError(13, "Permission denied")
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(InputError, match="permission denied"):
        load_image(path)
