"""Open images from files, bytes and streams into small RGB working copies, with hard limits.

This is the only module that decodes still pixels, so every limit a hostile file could abuse lives
here: file size (read through ``reading``), Pillow's decompression-bomb pixel limit, truncation,
formats we do not read, and the library warnings a damaged file makes Pillow print (caught: a
file's problems are reported once, as its result, never as extra lines on standard error).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import io
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from provcheck.errors import InputError
from provcheck.media.reading import display_name, read_file_bytes
from provcheck.media.sniff import is_heif
from provcheck.signals.exif import exif_block
from provcheck.signals.hashes import WORKING_SIZE

#: Extensions a folder walk picks up. A file named on the command line is sniffed whatever its name.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif", ".heic", ".heif"}
)

#: What Pillow raises on a corrupt or truncated file (its parsers are not all careful about
#: hostile bytes: an index out of range, a missing key, a short struct are corruption too).
CORRUPT = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    ZeroDivisionError,
    OverflowError,
)

#: Largest encoded image we read, in bytes. Real photos are far below; beyond it is an attack or a
#: mistake (a disk image named .jpg), and reading it would only cost memory.
MAX_IMAGE_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class LoadedImage:
    """A decoded picture ready to hash, with the facts the database keeps about its file."""

    name: str
    sha256: str
    width: int
    height: int
    image: Image.Image  # RGB, longest side <= WORKING_SIZE, EXIF orientation applied
    #: The file's raw EXIF block and Pillow's name for its format, kept from the one decode for
    #: ``provcheck.signals.metadata`` (the file is never opened twice).
    exif: bytes | None = None
    format: str | None = None


def decode_image(data: bytes, name: str, working_size: int = WORKING_SIZE) -> LoadedImage:
    """Decode ``data`` into a working copy. ``name`` only labels errors and results."""
    if not data:
        raise InputError(name, "file is empty (0 bytes)")
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        with quiet_decoding(), Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            # JPEG can decode at 1/2, 1/4 or 1/8 scale for free; ask for no less than we hash.
            opened.draft("RGB", draft_request(width, height, working_size))
            opened.load()
            image = to_working_copy(opened, working_size)
            exif, image_format = exif_block(opened), opened.format
    except UnidentifiedImageError:
        if not is_heif(data):
            raise InputError(
                name, "not an image provcheck can read (unknown or corrupt format)"
            ) from None
        from provcheck.media.container import heif_still

        picture = heif_still(data, name)
        width, height = picture.size
        image = to_working_copy(picture, working_size)
        exif, image_format = None, "HEIF"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        limit = Image.MAX_IMAGE_PIXELS or 0
        raise InputError(
            name,
            f"image is too large to decode safely ({limit:,} pixel limit; decompression bomb?)",
        ) from None
    except CORRUPT as exc:
        reason = str(exc) or type(exc).__name__
        raise InputError(name, f"corrupt or truncated image ({reason})") from None
    if min(image.size) < 1:
        raise InputError(name, "image has no pixels")
    return LoadedImage(name, sha256, width, height, image, exif, image_format)


def draft_request(width: int, height: int, working_size: int) -> tuple[int, int]:
    """The size to pass to ``Image.draft`` so a JPEG decodes at the smallest DCT scale whose
    longest side still reaches ``working_size`` (the working copy's bound).

    Pillow picks the largest scale (1/8, 1/4, 1/2) at which *both* sides stay at or above the
    request, so asking for a square would keep a panorama's short side, and with it most of the
    decode, needlessly large: the request keeps the picture's aspect ratio instead.
    """
    longest = max(width, height, 1)
    if longest <= working_size:
        return (width, height)
    # Pillow takes scale s only if s <= width // w and s <= height // h; the longest side's
    # request alone guarantees longest / s >= working_size, so the other may round down.
    return (max(1, width * working_size // longest), max(1, height * working_size // longest))


@contextmanager
def quiet_decoding() -> Iterator[None]:
    """Decoding with the library's warnings caught: a damaged file's EXIF or a short read is
    reported as the file's result (or ignored when the picture decodes anyway), never printed;
    the decompression-bomb warning becomes an error, as a hostile file must not get that far."""
    _quiet_libtiff()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


@functools.cache
def _quiet_libtiff() -> None:
    """Stop libtiff printing its errors on standard error (``LZWDecode: Not enough data``):
    Pillow turns them into an exception that becomes the file's one-line result anyway. libtiff
    is a C library, so its handler is reset in the copy Pillow loaded, found among the process's
    mapped files (Linux); elsewhere, or if that fails, nothing changes."""
    maps = Path("/proc/self/maps")
    try:
        from PIL import TiffImagePlugin  # noqa: F401 - loads Pillow's libtiff

        loaded = {line.split()[-1] for line in maps.read_text().splitlines() if "libtiff" in line}
        for library in loaded:
            ctypes.CDLL(library).TIFFSetErrorHandler(None)
    except (OSError, AttributeError, IndexError, ImportError):
        return


#: Modes that hold more than 8 bits per sample (16-bit and 32-bit grey, float grey): scaled to 8
#: bits before anything else, or Pillow's conversion clips them (a 16-bit grey picture turns white).
_DEEP_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})


def _to_8_bit(image: Image.Image) -> Image.Image:
    """A deep grey picture as 8-bit grey: 16-bit ranges by 1/257, anything else by its own span."""
    values = np.asarray(image, dtype=np.float64)
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min(initial=0.0)), float(values.max(initial=0.0))
    if image.mode.startswith("I;16") or (image.mode == "I" and low >= 0 and high <= 65535):
        scaled = values / 257.0
    elif image.mode == "F" and low >= 0 and high <= 1.0:
        scaled = values * 255.0
    else:
        scaled = (values - low) * (255.0 / (high - low or 1.0))
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), "L")


def to_working_copy(image: Image.Image, working_size: int) -> Image.Image:
    image = ImageOps.exif_transpose(image) or image
    if image.mode in _DEEP_MODES:
        image = _to_8_bit(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flattened = Image.new("RGB", rgba.size, (255, 255, 255))
        flattened.paste(rgba, mask=rgba.getchannel("A"))
        image = flattened
    elif image.mode != "RGB":
        image = image.convert("RGB")
    if max(image.size) > working_size:
        image = image.copy()
        image.thumbnail((working_size, working_size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return image


def load_image(path: Path, working_size: int = WORKING_SIZE) -> LoadedImage:
    return decode_image(read_file_bytes(path, MAX_IMAGE_BYTES), display_name(path), working_size)
