"""EXIF blocks made in the test: Pillow writes the ordinary ones; a tiny TIFF writer here adds
what Pillow cannot write (the IFD1 thumbnail) and the hostile shapes (huge counts, loops, values
past the end, wrong types)."""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence

from PIL import Image
from PIL.TiffImagePlugin import IFDRational

ASCII, SHORT, LONG, RATIONAL, UNDEFINED = 2, 3, 4, 5, 7
IFD_EXIF, IFD_GPS = 0x8769, 0x8825


def pillow_exif(
    *,
    make: str | None = None,
    model: str | None = None,
    software: str | None = None,
    modified: str | None = None,
    orientation: int | None = None,
    captured: str | None = None,
    captured_offset: str | None = None,
    digitized: str | None = None,
    gps: tuple[float, float] | None = None,
    altitude: float | None = None,
) -> Image.Exif:
    """An EXIF block as a camera writes it, by Pillow. ``gps`` is signed decimal degrees."""
    exif = Image.Exif()
    for tag, value in ((0x010F, make), (0x0110, model), (0x0131, software), (0x0132, modified)):
        if value is not None:
            exif[tag] = value
    if orientation is not None:
        exif[0x0112] = orientation
    base = exif.get_ifd(IFD_EXIF)
    for tag, value in ((0x9003, captured), (0x9011, captured_offset), (0x9004, digitized)):
        if value is not None:
            base[tag] = value
    if gps is not None:
        lat, lon = gps
        place = exif.get_ifd(IFD_GPS)
        place.update(
            {
                1: "N" if lat >= 0 else "S",
                2: _dms(abs(lat)),
                3: "E" if lon >= 0 else "W",
                4: _dms(abs(lon)),
            }
        )
        if altitude is not None:
            place.update({5: b"\x01" if altitude < 0 else b"\x00", 6: IFDRational(abs(altitude))})
    return exif


def _dms(degrees: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    whole = int(degrees)
    minutes = int((degrees - whole) * 60)
    seconds = round(((degrees - whole) * 60 - minutes) * 60 * 10000)
    return (IFDRational(whole), IFDRational(minutes), IFDRational(seconds, 10000))


def jpeg_with_exif(picture: Image.Image, exif: Image.Exif | bytes, quality: int = 90) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def camera_thumbnail(picture: Image.Image, size: tuple[int, int] = (160, 120)) -> bytes:
    """A thumbnail as cameras make it: ``size``, letterboxed with black bars, JPEG q75."""
    small = picture.convert("RGB")
    small.thumbnail(size, Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", size)
    canvas.paste(small, ((size[0] - small.width) // 2, (size[1] - small.height) // 2))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=75)
    return out.getvalue()


def with_thumbnail(block: bytes, thumbnail: bytes) -> bytes:
    """Pillow's EXIF ``block`` (``Exif.tobytes()``) with an IFD1 pointing at ``thumbnail``
    appended, linked from IFD0's next-directory pointer (which Pillow leaves at 0)."""
    tiff = bytearray(block.removeprefix(b"Exif\x00\x00"))
    endian = "<" if tiff[:2] == b"II" else ">"
    (ifd0,) = struct.unpack_from(endian + "L", tiff, 4)
    (count,) = struct.unpack_from(endian + "H", tiff, ifd0)
    ifd1 = len(tiff) + len(tiff) % 2
    tiff += b"\x00" * (ifd1 - len(tiff))
    struct.pack_into(endian + "L", tiff, ifd0 + 2 + 12 * count, ifd1)
    data_at = ifd1 + 2 + 2 * 12 + 4
    tiff += struct.pack(endian + "H", 2)
    tiff += struct.pack(endian + "HHLL", 0x0201, LONG, 1, data_at)
    tiff += struct.pack(endian + "HHLL", 0x0202, LONG, 1, len(thumbnail))
    tiff += struct.pack(endian + "L", 0) + thumbnail
    return b"Exif\x00\x00" + bytes(tiff)


Entry = tuple[int, int, int, bytes]  # tag, type, count, value bytes (inline if <= 4)


def raw_tiff(
    ifd0: Sequence[Entry], *, next_ifd: int = 0, tail: bytes = b"", endian: str = "<"
) -> bytes:
    """A hand-made block: header, IFD0 at offset 8 with ``ifd0`` entries (values longer than
    four bytes follow the directory, in order), ``next_ifd`` as its next pointer, then ``tail``.
    Entries may lie about their counts: that is the point."""
    head = (b"II*\x00" if endian == "<" else b"MM\x00*") + struct.pack(endian + "L", 8)
    data_at = 8 + 2 + 12 * len(ifd0) + 4
    entries, data = b"", b""
    for tag, kind, count, value in ifd0:
        if len(value) <= 4:
            field = value.ljust(4, b"\x00")
        else:
            field = struct.pack(endian + "L", data_at + len(data))
            data += value
        entries += struct.pack(endian + "HHL", tag, kind, count) + field
    directory = struct.pack(endian + "H", len(ifd0)) + entries + struct.pack(endian + "L", next_ifd)
    return b"Exif\x00\x00" + head + directory + data + tail


def ascii_entry(tag: int, text: str) -> Entry:
    value = text.encode("latin-1") + b"\x00"
    return (tag, ASCII, len(value), value)


def long_entry(tag: int, value: int) -> Entry:
    return (tag, LONG, 1, struct.pack("<L", value))


def short_entry(tag: int, value: int) -> Entry:
    return (tag, SHORT, 1, struct.pack("<H", value))
