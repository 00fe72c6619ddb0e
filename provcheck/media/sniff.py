"""Recognise videos and animations by their name and content, before anything is decoded.

A file is a video when its name says so (a folder walk picks those up), when its first bytes are
those of a video container (MP4/MOV/3GP, Matroska/WebM, AVI, MPEG-PS/ES, MPEG-TS/M2TS, FLV,
ASF/WMV, Ogg with a video stream, MXF, NUT, Y4M, RealMedia), or, for anything else that is not a
picture Pillow knows, when PyAV finds a video stream it can decode in it: the archive's own
formats (an Ogg/Theora newsreel, an MPEG-PS ``.mpg``, MJPEG in a ``.mov``, DV, ...) are read
whatever they are named.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from PIL import Image

from provcheck.errors import InputError
from provcheck.media.reading import read_head

#: Container extensions a folder walk picks up as videos. Animated GIF/WebP are found as images by
#: extension and recognised as animations by ``is_animation``. (``.ogg`` is mostly audio: an Ogg
#: video named so is still recognised by its content when named on the command line.)
VIDEO_EXTENSIONS = frozenset(
    {
        ".mp4", ".m4v", ".mov", ".qt", ".3gp", ".3g2", ".mkv", ".webm", ".avi", ".divx",
        ".ts", ".mts", ".m2ts", ".mpg", ".mpeg", ".m1v", ".m2v", ".vob", ".ogv", ".ogm",
        ".flv", ".f4v", ".wmv", ".asf", ".mxf", ".dv", ".nut", ".y4m", ".rm", ".rmvb",
    }
)  # fmt: skip

#: Image formats that may hold an animation, sampled like a video when they do.
ANIMATION_EXTENSIONS = frozenset({".gif", ".webp", ".png", ".apng"})

#: Bytes read from the start of a file to recognise it.
HEAD_BYTES = 512

#: QuickTime files from before the ``ftyp`` box start with one of these atoms instead.
_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
#: The first packet of a video stream in an Ogg file starts with one of these.
_OGG_VIDEO = (b"\x80theora", b"\x01video", b"OVP80", b"\x80daala", b"BBCD")
_ASF = b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"


#: ISO-BMFF major brands of still pictures (AVIF, HEIF/HEIC): an ``ftyp`` box like a video's,
#: one picture inside. Image sequences (``avis``, ``msf1``, ``hevc``) are sampled as videos.
STILL_BRANDS = frozenset({b"avif", b"heic", b"heix", b"heim", b"heis", b"mif1", b"miaf"})


def is_heif(head: bytes) -> bool:
    """True for an AVIF or HEIF/HEIC still (an ISO-BMFF file whose major brand is a picture's)."""
    return head[4:8] == b"ftyp" and head[8:12] in STILL_BRANDS


def sniff_video(head: bytes) -> bool:
    """True if the first bytes look like a video container."""
    return (
        (head[4:8] == b"ftyp" and not is_heif(head))
        or head[4:8] in _QUICKTIME_ATOMS
        or head[:4] == b"\x1a\x45\xdf\xa3"
        or (head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"))
        or head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")
        or (len(head) > 188 and head[0] == 0x47 and head[188] == 0x47)
        or (len(head) > 196 and head[4] == 0x47 and head[196] == 0x47)
        or head[:4] == b"FLV\x01"
        or head[:8] == _ASF
        or (head[:4] == b"OggS" and any(codec in head[:HEAD_BYTES] for codec in _OGG_VIDEO))
        or head[:4] == b"\x06\x0e\x2b\x34"
        or head[:14] == b"nut/multimedia"
        or head[:9] == b"YUV4MPEG2"
        or head[:4] == b".RMF"
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
    if path.suffix.lower() in VIDEO_EXTENSIONS:
        return True
    head = _head(path)
    return head is not None and _is_video(head, path)


def is_video_bytes(data: bytes) -> bool:
    """Whether bytes in memory (standard input, an upload, a download) are a video."""
    return bool(data) and _is_video(data[:HEAD_BYTES], data)


def _head(path: Path) -> bytes | None:
    """The first bytes of a regular file; None for a folder, a missing file, a FIFO or a device,
    which are never probed here (reading them says what they are, in their place)."""
    if not path.is_file():
        return None
    try:
        return read_head(path, HEAD_BYTES)
    except InputError:
        return None


def _is_video(head: bytes, source: Path | bytes) -> bool:
    if is_heif(head):  # an AVIF/HEIF still, which PyAV would also call a one-frame video
        return False
    if sniff_video(head):
        return True
    if _may_animate(head):
        return is_animation(source)
    if isinstance(source, Path):
        return not _is_picture(source) and _decodable_video(str(source))
    return not _is_picture(io.BytesIO(source)) and _decodable_video(io.BytesIO(source))


def _is_picture(source: Path | io.BytesIO) -> bool:
    """Whether Pillow recognises ``source`` as a picture (it reads the header only). Pillow's
    warnings about what it reads (a corrupt EXIF block) are the image reader's to report."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(source):
                return True
    except (Image.DecompressionBombError, *_CORRUPT):
        return False


def _decodable_video(source: str | io.BytesIO) -> bool:
    """Whether PyAV (when installed) finds a video stream it can decode in ``source``: FFmpeg
    probes the content, not the name. Still-image demuxers do not count (FFmpeg also reads a
    JPEG as a one-frame "video"), nor do audio-only files."""
    try:
        import av
    except ImportError:
        return False
    try:
        with av.open(source, mode="r", metadata_errors="ignore") as container:
            name = container.format.name or ""
            if name == "image2" or name.endswith("_pipe"):
                return False
            return any(
                stream.codec_context is not None
                and stream.codec_context.codec is not None
                and stream.codec_context.codec.is_decoder
                for stream in container.streams.video
            )
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError):
        return False
