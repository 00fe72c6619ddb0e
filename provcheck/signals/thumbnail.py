"""Small preview pictures of references and flagged inputs, for the evidence report.

A thumbnail is a few kilobytes (longest side <= ``MAX_SIDE``): enough for a reader to see that two
pictures are the same scene, too small to be a copy of the material. Thumbnails that come from
outside (an import file) are decoded and re-encoded here, so the database only ever holds small,
well-formed images of a type the report knows how to embed.
"""

from __future__ import annotations

import base64
import io
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image, UnidentifiedImageError, features

if TYPE_CHECKING:
    import numpy as np

#: Longest side of a thumbnail, in pixels.
MAX_SIDE = 160
#: Encoder quality: at 160 px, 70 keeps edges readable at 3-6 KB for a typical frame.
QUALITY = 70
#: libwebp's effort (0-6): 2 encodes a 160 px preview in half the time of Pillow's default 4
#: (0.74 against 1.47 ms on 200 devset stills) for 5 % more bytes (2,677 against 2,554 on average).
WEBP_METHOD = 2
#: The only types a thumbnail may have; the report writes them into ``data:`` URIs verbatim.
MIME_TYPES = frozenset({"image/webp", "image/jpeg", "image/png"})
#: Largest encoded thumbnail accepted from an import file: ten times what we make ourselves.
MAX_IMPORT_BYTES = 64 * 1024

_FORMAT_OF = {"image/webp": "WEBP", "image/jpeg": "JPEG", "image/png": "PNG"}


@dataclass(frozen=True, slots=True)
class Thumbnail:
    mime: str
    data: bytes

    def data_uri(self) -> str:
        """``data:`` URI for embedding; ``mime`` is one of ``MIME_TYPES`` by construction."""
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


def _preferred_mime() -> str:
    # Pillow wheels always carry libwebp; a distro build may not, and JPEG is then the safe choice.
    return "image/webp" if features.check("webp") else "image/jpeg"


def make_thumbnail(image: Image.Image, max_side: int = MAX_SIDE) -> Thumbnail:
    """Encode a small copy of ``image`` (an RGB working copy: EXIF orientation already applied)."""
    small = image.convert("RGB") if image.mode != "RGB" else image.copy()
    small.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    mime = _preferred_mime()
    buffer = io.BytesIO()
    if mime == "image/webp":
        small.save(buffer, "WEBP", quality=QUALITY, method=WEBP_METHOD)
    else:
        small.save(buffer, "JPEG", quality=QUALITY, optimize=True)
    return Thumbnail(mime, buffer.getvalue())


def thumbnail_pixels(thumbnail: Thumbnail) -> np.ndarray | None:
    """The preview's RGB pixels (for ``matching.agreement``); None if it will not decode. The
    bytes are ours (``make_thumbnail`` or re-encoded on import), so this is a safety net only."""
    import numpy as np

    try:
        with Image.open(io.BytesIO(thumbnail.data), formats=[_FORMAT_OF[thumbnail.mime]]) as opened:
            if max(opened.size) > 4 * MAX_SIDE:
                return None
            return np.asarray(opened.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, EOFError, KeyError):
        return None


def thumbnail_from_untrusted(mime: str, data: bytes) -> Thumbnail:
    """Check and re-encode a thumbnail read from a file someone else made.

    Raises ValueError naming the problem. Re-encoding means the stored bytes are always ours: a
    hostile import cannot smuggle a huge, malformed or mislabelled payload into a report.
    """
    if mime not in MIME_TYPES:
        raise ValueError(f"thumbnail type must be one of {', '.join(sorted(MIME_TYPES))}")
    if len(data) > MAX_IMPORT_BYTES:
        raise ValueError(f"thumbnail is {len(data)} bytes, over the {MAX_IMPORT_BYTES} limit")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[_FORMAT_OF[mime]]) as opened:
                if max(opened.size) > 4 * MAX_SIDE:
                    raise ValueError(f"thumbnail is {opened.size[0]}x{opened.size[1]} pixels")
                opened.load()
                return make_thumbnail(opened.convert("RGB"))
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ValueError(f"thumbnail is not a readable {mime} image") from None
    except (OSError, SyntaxError, EOFError) as exc:
        raise ValueError(f"thumbnail is corrupt ({exc})") from None
