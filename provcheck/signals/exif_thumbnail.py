"""The small JPEG a camera stores in EXIF beside the picture, and how far it is from the picture.

Cameras write the thumbnail when they write the picture; many editors change the picture and
leave the thumbnail alone. A thumbnail that shows something else than the picture is therefore a
sign the picture was changed after capture (or the EXIF block was copied from another file). The
comparison is PDQ at the thumbnail's own size, after the thumbnail is turned upright with the
picture's EXIF orientation and freed of the black bars cameras add when its shape differs from
the picture's.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageStat

from provcheck.signals.hashes import MIN_QUALITY, PdqHasher

#: Largest embedded thumbnail decoded. EXIF thumbnails are 160x120 JPEGs of 5-20 KB (they must fit
#: with the rest of the block in a JPEG's 64 KB APP1 segment); PNG and WebP blocks are not bound.
MAX_THUMBNAIL_BYTES = 256 * 1024
#: Longest side accepted: a thumbnail claiming more is no thumbnail (or a decompression bomb).
MAX_THUMBNAIL_SIDE = 1024
#: Shapes whose width/height ratios differ by less than this are the same shape.
ASPECT_TOLERANCE = 0.03
#: Mean grey level (0-255) below which the strips outside the picture's shape are letterbox bars.
DARK_BORDER = 24

_JPEG_OFFSET, _JPEG_LENGTH = 0x0201, 0x0202  # JPEGInterchangeFormat(Length), in IFD1
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True, slots=True)
class EmbeddedThumbnail:
    width: int  # upright, as compared
    height: int
    size: int  # bytes of the embedded JPEG
    #: PDQ bits (0-256) between the thumbnail and the picture shrunk to its size; None when they
    #: could not be compared (no picture given, or the thumbnail is too flat to hash).
    distance: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "bytes": self.size,
            "pdq_distance": self.distance,
        }


def read_thumbnail(
    tiff: bytes,
    ifd1: dict[int, Any],
    orientation: int | None,
    picture: Image.Image | None,
    notes: list[str],
) -> EmbeddedThumbnail | None:
    """The thumbnail IFD1 points at inside ``tiff`` (the EXIF block from its TIFF header on),
    compared with ``picture`` (upright working copy) when given. Problems go to ``notes``."""
    offset, length = ifd1.get(_JPEG_OFFSET), ifd1.get(_JPEG_LENGTH)
    if offset is None and length is None:
        return None
    if not isinstance(offset, int) or not isinstance(length, int) or length <= 0 or offset < 8:
        notes.append("EXIF thumbnail has no usable position: not read")
        return None
    if offset + length > len(tiff):
        notes.append("EXIF thumbnail runs past the end of the EXIF block: not read")
        return None
    if length > MAX_THUMBNAIL_BYTES:
        notes.append(f"EXIF thumbnail is {length:,} bytes, over the {MAX_THUMBNAIL_BYTES:,} limit")
        return None
    image = _decode(tiff[offset : offset + length], notes)
    if image is None:
        return None
    method = _UPRIGHT.get(orientation or 1)
    if method is not None:
        image = image.transpose(method)
    distance = None
    if picture is not None:
        distance = thumbnail_distance(image, picture)
        if distance is None:
            notes.append("EXIF thumbnail is too flat to compare with the picture")
    return EmbeddedThumbnail(image.width, image.height, length, distance)


def _decode(data: bytes, notes: list[str]) -> Image.Image | None:
    if not data.startswith(b"\xff\xd8"):
        notes.append("EXIF thumbnail is not a JPEG: not read")
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["JPEG"]) as opened:
                width, height = opened.size
                if max(width, height) > MAX_THUMBNAIL_SIDE or min(width, height) < 1:
                    notes.append(f"EXIF thumbnail claims {width}x{height} pixels: not read")
                    return None
                opened.load()
                return opened.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        notes.append("EXIF thumbnail is too large to decode safely: not read")
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        notes.append(f"EXIF thumbnail is corrupt ({str(exc)[:100]})")
    return None


def thumbnail_distance(thumbnail: Image.Image, picture: Image.Image) -> int | None:
    """PDQ distance between an (upright) thumbnail and the picture, both at the thumbnail's
    size; None when the thumbnail is too flat for PDQ to say anything.

    The picture is shrunk to the thumbnail rather than compared through the scan's own PDQ hash
    of the working copy: that saves a hash but, measured on the same 59 pictures, puts unedited
    thumbnails at 8-24 bits (brightened: up to 30) instead of 0-12 (16), too close to the 31 that
    flags a thumbnail as another picture."""
    thumbnail, cut = _same_shape(thumbnail, picture)
    pdq = PdqHasher()
    thumb_hash, thumb_quality = pdq.compute_with_quality(thumbnail)
    if thumb_quality < MIN_QUALITY:
        return None
    part = picture.crop(cut) if cut is not None else picture
    small = part.convert("RGB").resize(thumbnail.size, Image.Resampling.BILINEAR, reducing_gap=1.0)
    return thumb_hash - pdq.compute(small)


def _same_shape(
    thumbnail: Image.Image, picture: Image.Image
) -> tuple[Image.Image, tuple[int, int, int, int] | None]:
    """The thumbnail, and the box of the picture it shows (None: all of it). Cameras letterbox a
    3:2 or 16:9 picture into a 4:3 thumbnail with black bars (cut them off the thumbnail);
    others crop the picture to fill the thumbnail (compare with the same cut of the picture)."""
    shape = picture.width / picture.height
    if abs(math.log(thumbnail.width / thumbnail.height / shape)) <= ASPECT_TOLERANCE:
        return thumbnail, None
    inner = _centred_box(thumbnail.size, shape)
    if _dark_outside(thumbnail, inner):
        return thumbnail.crop(inner), None
    return thumbnail, _centred_box(picture.size, thumbnail.width / thumbnail.height)


def _centred_box(size: tuple[int, int], shape: float) -> tuple[int, int, int, int]:
    """The largest box of width/height ``shape`` centred in ``size``."""
    width, height = size
    if width / height > shape:
        inner = max(1, round(height * shape))
        left = (width - inner) // 2
        return (left, 0, left + inner, height)
    inner = max(1, round(width / shape))
    top = (height - inner) // 2
    return (0, top, width, top + inner)


def _dark_outside(image: Image.Image, box: tuple[int, int, int, int]) -> bool:
    left, top, right, bottom = box
    width, height = image.size
    around = ((0, 0, left, height), (right, 0, width, height), (0, 0, width, top))
    strips = [s for s in (*around, (0, bottom, width, height)) if s[2] > s[0] and s[3] > s[1]]
    return bool(strips) and all(
        sum(ImageStat.Stat(image.crop(strip)).mean) / 3 < DARK_BORDER for strip in strips
    )
