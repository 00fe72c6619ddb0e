"""Recognise videos and animations by their name and first bytes, before anything is decoded."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from PIL import Image

from provcheck.errors import InputError
from provcheck.media.reading import read_head

#: Container extensions a folder walk picks up as videos. Animated GIF/WebP are found as images by
#: extension and recognised as animations by ``is_animation``.
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mpg"})

#: Image formats that may hold an animation, sampled like a video when they do.
ANIMATION_EXTENSIONS = frozenset({".gif", ".webp", ".png", ".apng"})


#: ISO-BMFF major brands of still pictures (AVIF, HEIF/HEIC): an ``ftyp`` box like a video's,
#: one picture inside. Image sequences (``avis``, ``msf1``, ``hevc``) are sampled as videos.
STILL_BRANDS = frozenset({b"avif", b"heic", b"heix", b"heim", b"heis", b"mif1", b"miaf"})


def is_heif(head: bytes) -> bool:
    """True for an AVIF or HEIF/HEIC still (an ISO-BMFF file whose major brand is a picture's)."""
    return head[4:8] == b"ftyp" and head[8:12] in STILL_BRANDS


def sniff_video(head: bytes) -> bool:
    """True if the first bytes look like a video container (MP4/MOV, Matroska/WebM, AVI, MPEG)."""
    return (
        (head[4:8] == b"ftyp" and not is_heif(head))
        or head[:4] == b"\x1a\x45\xdf\xa3"
        or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
        or head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")
        or (len(head) > 188 and head[0] == 0x47 and head[188] == 0x47)
    )


#: Pillow's errors for corrupt files (``images.CORRUPT``; not imported: images imports this).
_CORRUPT = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, ZeroDivisionError)


def _may_animate(head: bytes) -> bool:
    return head[:6] in (b"GIF87a", b"GIF89a") or head[8:12] == b"WEBP" or head[:4] == b"\x89PNG"


def is_animation(data: bytes | Path) -> bool:
    """True for a GIF/WebP/PNG with more than one frame (Pillow reads little beyond the header)."""
    try:
        head = read_head(data, 16) if isinstance(data, Path) else data[:16]
        if not _may_animate(head):
            return False
        with warnings.catch_warnings():  # the decoder says what is wrong, once, if it is
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as image:
                return bool(getattr(image, "is_animated", False))
    except (InputError, Image.DecompressionBombError, *_CORRUPT):
        return False  # the decoder says what is wrong with it, once, in its place


def is_video_path(path: Path) -> bool:
    """Whether ``path`` should be sampled as a video rather than read as one still."""
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return True
    try:
        if sniff_video(read_head(path, 400)):
            return True
    except InputError:  # a FIFO, a device, a missing file: reading it says so, in its place
        return False
    return (suffix in ANIMATION_EXTENSIONS or not suffix) and is_animation(path)


def is_video_bytes(data: bytes) -> bool:
    return sniff_video(data[:400]) or is_animation(data)
