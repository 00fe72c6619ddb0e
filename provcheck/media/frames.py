"""What both video decoders share: the limits a video may not pass, the facts gathered while it is
read, the frames it yields, and the cheap probe hash the sampler decides with.

Every bound a hostile or broken file could abuse is here: file size, duration, frame size, frames
decoded, frames kept, decode errors, and the decoding budget (frames x pixels: a few bytes of GIF
can make Pillow draw a 32-megapixel canvas for every one of 10,000 frames). Past a bound the video
is refused with a one-line error naming the file; a video is never half-read silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from provcheck.errors import InputError

#: Longest side of the luma view the sampler hashes: PDQ works on 64x64, so this is plenty.
PROBE_SIZE = 128

#: What every decoded frame costs of the budget at the least, in pixels: the work done per frame
#: whatever its size (a working copy and a probe hash), so ten thousand tiny frames count too.
MIN_FRAME_COST = 512 * 512

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
    #: Decoding budget of a video container, in pixels (frames decoded x pixels per frame): about
    #: 4 hours of 1080p at 60 frames/s; FFmpeg decodes about a gigapixel a second on one core.
    max_decoded_pixels: int = 2 * 10**12
    #: The same budget for an animated GIF/WebP/PNG, far smaller: Pillow draws every frame on the
    #: whole canvas, about 50 megapixels a second, so this bounds one to about 20 s of decoding.
    max_animation_pixels: int = 10**9


@dataclass(frozen=True, slots=True)
class SampledFrame:
    time: float  # seconds from the start of the video
    image: Image.Image  # RGB, longest side <= WORKING_SIZE
    #: RGB, longest side <= thumbnail.MAX_SIDE, scaled by the decoder straight from the frame when
    #: previews were asked for (a third of the cost of shrinking ``image`` again); else None.
    preview: Image.Image | None = None


@dataclass(frozen=True, slots=True)
class VideoSegment:
    """A stretch of a video that decodes on its own, so that several processes (or machines) can
    sample one video at once: the frames shown from ``start`` (seconds from the start of the
    stream) up to ``end`` (None: to the end). ``seek`` is where the decoder seeks first, in the
    stream's time base (None: decode from the beginning); ``media.split.plan_segments`` chooses
    it so that decoding resumes at the keyframe shown at ``start``."""

    index: int
    start: float
    end: float | None
    seek: int | None = None


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
    decoded_pixels: int = 0  # charged against the budget as frames are decoded
    declared: float = 0.0  # seconds the header says the video lasts (0: it does not say)
    warnings: list[str] = field(default_factory=list)


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


def frame_cost(width: int, height: int) -> int:
    """Pixels one decoded frame of ``width`` x ``height`` costs of the decoding budget."""
    return max(width * height, MIN_FRAME_COST)


def check_budget(facts: VideoFacts, frames: int, budget: int) -> None:
    """Refuse, before decoding, a video whose header already says it is over ``budget``."""
    cost = frames * frame_cost(facts.width, facts.height)
    if cost > budget:
        raise InputError(
            facts.name,
            f"{frames:,} frames of {facts.width}x{facts.height} are {cost / 1e9:,.1f} G pixels to"
            f" decode, over the {budget / 1e9:g} G pixel limit",
        )


def charge_frame(facts: VideoFacts, budget: int) -> None:
    """Count one decoded frame against ``budget``; past it, the video is refused."""
    facts.decoded_pixels += frame_cost(facts.width, facts.height)
    if facts.decoded_pixels > budget:
        raise InputError(
            facts.name,
            f"more than {budget / 1e9:g} G pixels to decode (frames x frame size); over the limit",
        )


def check_complete(facts: VideoFacts) -> None:
    """Refuse a video that ended well before its header said it would: a cut file still opens
    (an MP4 with its index first) and would otherwise be read as a shorter video, silently."""
    declared = facts.declared
    if declared > 0 and facts.duration + max(1.0, 0.05 * declared) < declared:
        raise InputError(
            facts.name,
            f"video is truncated: {facts.duration:.1f} s of the {declared:.1f} s its header"
            " declares could be read (file cut short?)",
        )
