"""Open a video (or an animated GIF/WebP) and sample it into (time, working-copy image) frames.

Decoding lives here (animations, with Pillow) and in ``video_av`` (containers, with PyAV); which
frames to keep is decided by ``sampling`` (pure). Every bound a hostile or broken file could abuse
is here too: file size, duration, frame size, frames decoded, frames kept, decode errors. Past a
bound the video is refused with a one-line error naming the file; a video is never half-read
silently.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from provcheck.errors import InputError
from provcheck.fingerprint import WORKING_SIZE
from provcheck.media import reading
from provcheck.sampling import FrameSampler, SamplingPolicy

#: Container extensions a folder walk picks up as videos. Animated GIF/WebP are found as images by
#: extension and recognised as animations by ``is_animation``.
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mpg"})

#: Image formats that may hold an animation, sampled like a video when they do.
ANIMATION_EXTENSIONS = frozenset({".gif", ".webp", ".png", ".apng"})

#: Longest side of the luma view the sampler hashes: PDQ works on 64x64, so this is plenty.
PROBE_SIZE = 128

#: Called as decoding goes: (done, total), in seconds (frames for animations); total 0 if unknown.
Progress = Callable[[float, float], None]


@dataclass(frozen=True, slots=True)
class VideoLimits:
    """Bounds on the work one video may cause. Generous for real material, finite for hostile."""

    max_bytes: int = 8 * 1024**3
    max_duration_s: float = 4 * 3600.0
    max_pixels: int = 8192 * 4320  # one frame; 8K
    max_frames: int = 500_000  # frames decoded (or demuxed packets), whatever the header claims
    max_kept: int = 20_000
    max_decode_errors: int = 50


@dataclass(frozen=True, slots=True)
class SampledFrame:
    time: float  # seconds from the start of the video
    image: Image.Image  # RGB, longest side <= WORKING_SIZE
    #: RGB, longest side <= thumbnail.MAX_SIDE, scaled by the decoder straight from the frame when
    #: previews were asked for (a third of the cost of shrinking ``image`` again); else None.
    preview: Image.Image | None = None


@dataclass(slots=True)
class VideoFacts:
    """What a video is, filled in as it is read (frame counts and duration grow while sampling)."""

    name: str
    sha256: str
    width: int = 0
    height: int = 0
    codec: str = ""
    duration: float = 0.0
    frames_decoded: int = 0
    frames_kept: int = 0
    warnings: list[str] = field(default_factory=list)


# -- recognising videos --------------------------------------------------------------------------


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


# -- reading -------------------------------------------------------------------------------------


def _file_sha256(path: Path, limit: int) -> str:
    with reading(path) as size:
        if size > limit:
            raise InputError(str(path), f"video is {size / 1024**3:.1f} GB, over the limit")
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def sample_video(
    source: Path | bytes,
    name: str | None = None,
    *,
    policy: SamplingPolicy | None = None,
    limits: VideoLimits | None = None,
    on_progress: Progress | None = None,
    previews: bool = False,
) -> tuple[VideoFacts, Iterator[SampledFrame]]:
    """Open ``source`` (a path or the whole file in memory) and sample it lazily.

    Returns the facts (sha256 now; size, duration and counts as sampling goes) and an iterator of
    kept frames. Problems raise ``InputError`` naming the video, at open time or while iterating.
    ``previews`` asks the decoder for a thumbnail-size copy of each kept frame as well.
    """
    limits = limits or VideoLimits()
    sampler = FrameSampler(policy)
    if isinstance(source, bytes):
        label = name or "<stdin>"
        if not source:
            raise InputError(label, "file is empty (0 bytes)")
        if len(source) > limits.max_bytes:
            raise InputError(label, "video is over the size limit")
        facts = VideoFacts(label, hashlib.sha256(source).hexdigest())
        animated = is_animation(source)
        opener: Callable[[], Any] = partial(io.BytesIO, source)
    else:
        label = name or str(source)
        facts = VideoFacts(label, _file_sha256(source, limits.max_bytes))
        animated = source.suffix.lower() in ANIMATION_EXTENSIONS and is_video_path(source)
        opener = partial(str, source)
    if animated:
        frames = _animation_frames(opener, facts, sampler, limits, on_progress)
    else:
        from provcheck.video_av import av_frames

        frames = av_frames(opener, facts, sampler, limits, on_progress, previews)
    return facts, frames


def scaled(width: int, height: int, longest: int) -> tuple[int, int]:
    """Size with the longest side at most ``longest``, aspect kept."""
    scale = min(1.0, longest / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def probe_hash(gray: np.ndarray) -> tuple[bytes, int]:
    """A cheap PDQ hash of a small luma copy: only for sampling decisions, never stored."""
    import pdqhash

    vector, quality = pdqhash.compute(np.repeat(gray[:, :, None], 3, axis=2))
    return np.packbits(vector.astype(np.uint8)).tobytes(), int(quality)


def check_geometry(facts: VideoFacts, limits: VideoLimits) -> None:
    if facts.width < 1 or facts.height < 1:
        raise InputError(facts.name, "video has no frame size (corrupt header?)")
    if facts.width * facts.height > limits.max_pixels:
        raise InputError(
            facts.name,
            f"frames are {facts.width}x{facts.height}, over the {limits.max_pixels:,} pixel limit",
        )


def check_running(facts: VideoFacts, limits: VideoLimits, time_s: float) -> None:
    if facts.frames_decoded > limits.max_frames:
        raise InputError(facts.name, f"more than {limits.max_frames:,} frames; over the limit")
    if time_s > limits.max_duration_s:
        raise InputError(
            facts.name, f"longer than {limits.max_duration_s / 3600:g} h; over the limit"
        )
    if facts.frames_kept > limits.max_kept:
        raise InputError(
            facts.name, f"more than {limits.max_kept:,} distinct frames; over the limit"
        )


def _animation_frames(
    opener: Callable[[], Any],
    facts: VideoFacts,
    sampler: FrameSampler,
    limits: VideoLimits,
    on_progress: Progress | None,
) -> Iterator[SampledFrame]:
    import warnings

    from PIL import ImageSequence

    from provcheck.media import _to_working_copy

    t = 0.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(opener()) as image:
                facts.codec = (image.format or "image").lower()
                facts.width, facts.height = image.size
                check_geometry(facts, limits)
                total_frames = getattr(image, "n_frames", 1)
                for frame in ImageSequence.Iterator(image):
                    facts.frames_decoded += 1
                    facts.duration = t
                    check_running(facts, limits, t)
                    working = _to_working_copy(frame, WORKING_SIZE)
                    small = working.convert("L")
                    small.thumbnail((PROBE_SIZE, PROBE_SIZE), Image.Resampling.BOX)
                    bits, quality = probe_hash(np.asarray(small))
                    if on_progress is not None:
                        on_progress(facts.frames_decoded, total_frames)
                    if sampler.offer(t, bits, quality):
                        facts.frames_kept += 1
                        yield SampledFrame(round(t, 3), working)
                    # GIF delays under 20 ms are shown as 100 ms by browsers; do the same.
                    delay = frame.info.get("duration") or 100
                    t += (delay if delay >= 20 else 100) / 1000.0
                facts.duration = t
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(facts.name, "animation is too large to decode safely") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if facts.frames_decoded == 0:
            raise InputError(facts.name, f"corrupt or truncated animation ({exc})") from None
        facts.warnings.append(f"animation truncated after {facts.frames_decoded} frames")
