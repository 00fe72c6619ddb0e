"""Open images from files, bytes and streams into small RGB working copies, with hard limits.

This is the only module that decodes pixels, so every limit a hostile file could abuse lives here:
file size, Pillow's decompression-bomb pixel limit, truncation, and formats we do not read.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from provcheck.errors import InputError
from provcheck.signals.exif import exif_block
from provcheck.signals.hashes import WORKING_SIZE

#: Extensions a folder walk picks up. A file named on the command line is sniffed whatever its name.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})

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


def _human_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")


@contextmanager
def reading(path: Path) -> Iterator[int]:
    """The size of the file at ``path``, for a block that reads it: a folder or an empty file is
    refused, and an OS error inside the block becomes a one-line InputError naming the file."""
    name = str(path)
    try:
        if path.is_dir():
            raise InputError(name, "is a folder, not a file")
        size = path.stat().st_size
        if size == 0:
            raise InputError(name, "file is empty (0 bytes)")
        yield size
    except FileNotFoundError:
        raise InputError(name, "no such file") from None
    except PermissionError:
        raise InputError(name, "permission denied (cannot read the file)") from None
    except IsADirectoryError:
        raise InputError(name, "is a folder, not a file") from None
    except OSError as exc:
        raise InputError(name, f"cannot read: {exc.strerror or exc}") from None


def read_file_bytes(path: Path, limit: int = MAX_IMAGE_BYTES) -> bytes:
    """Read a whole file, refusing what is missing, unreadable, empty or over ``limit``."""
    with reading(path) as size:
        if size > limit:
            raise InputError(
                str(path), f"file is {_human_bytes(size)}, over the {_human_bytes(limit)} limit"
            )
        return path.read_bytes()


def decode_image(data: bytes, name: str, working_size: int = WORKING_SIZE) -> LoadedImage:
    """Decode ``data`` into a working copy. ``name`` only labels errors and results."""
    if not data:
        raise InputError(name, "file is empty (0 bytes)")
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        with warnings.catch_warnings():
            # Pillow's other warnings (corrupt EXIF, odd palettes) would reach the user's terminal
            # as Python tracebacks: what they say about EXIF, the metadata's notes say plainly.
            warnings.simplefilter("ignore", UserWarning)
            # Over Pillow's pixel limit it only warns; a hostile file must not get that far.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                width, height = opened.size
                # JPEG can decode at 1/2, 1/4 or 1/8 scale for free; ask for no less than we hash.
                opened.draft("RGB", draft_request(width, height, working_size))
                opened.load()
                image = to_working_copy(opened, working_size)
                exif, image_format = exif_block(opened), opened.format
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        limit = Image.MAX_IMAGE_PIXELS or 0
        raise InputError(
            name,
            f"image is too large to decode safely ({limit:,} pixel limit; decompression bomb?)",
        ) from None
    except UnidentifiedImageError:
        raise InputError(
            name, "not an image provcheck can read (unknown or corrupt format)"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports truncation and corrupt streams as OSError/SyntaxError/ValueError.
        raise InputError(name, f"corrupt or truncated image ({exc})") from None
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


def to_working_copy(image: Image.Image, working_size: int) -> Image.Image:
    image = ImageOps.exif_transpose(image) or image
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
    return decode_image(read_file_bytes(path), str(path), working_size)
