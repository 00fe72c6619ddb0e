"""Recognise videos and animations by their name and first bytes, before anything is decoded."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

#: Container extensions a folder walk picks up as videos. Animated GIF/WebP are found as images by
#: extension and recognised as animations by ``is_animation``.
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mpg"})

#: Image formats that may hold an animation, sampled like a video when they do.
ANIMATION_EXTENSIONS = frozenset({".gif", ".webp", ".png", ".apng"})


def sniff_video(head: bytes) -> bool:
    """True if the first bytes look like a video container (MP4/MOV, Matroska/WebM, AVI, MPEG)."""
    return (
        head[4:8] == b"ftyp"
        or head[:4] == b"\x1a\x45\xdf\xa3"
        or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
        or head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")
        or (len(head) > 188 and head[0] == 0x47 and head[188] == 0x47)
    )


def _may_animate(head: bytes) -> bool:
    return head[:6] in (b"GIF87a", b"GIF89a") or head[8:12] == b"WEBP" or head[:4] == b"\x89PNG"


def is_animation(data: bytes | Path) -> bool:
    """True for a GIF/WebP/PNG with more than one frame (Pillow reads little beyond the header)."""
    try:
        if isinstance(data, Path):
            with data.open("rb") as handle:
                if not _may_animate(handle.read(16)):
                    return False
        elif not _may_animate(data[:16]):
            return False
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as image:
            return bool(getattr(image, "is_animated", False))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False


def is_video_path(path: Path) -> bool:
    """Whether ``path`` should be sampled as a video rather than read as one still."""
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return True
    try:
        with path.open("rb") as handle:
            if sniff_video(handle.read(400)):
                return True
    except OSError:
        return False
    return (suffix in ANIMATION_EXTENSIONS or not suffix) and is_animation(path)


def is_video_bytes(data: bytes) -> bool:
    return sniff_video(data[:400]) or is_animation(data)
