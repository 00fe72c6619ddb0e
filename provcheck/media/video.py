"""Open a video (or an animated GIF/WebP) and sample it into (time, working-copy image) frames.

Decoding lives in ``animation`` (animated pictures, with Pillow) and ``container`` (video
containers, with PyAV); which frames to keep is decided by ``sampling`` (pure); the limits and the
facts both decoders share are in ``frames``.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from provcheck.errors import InputError
from provcheck.media.animation import animation_frames
from provcheck.media.frames import Progress, SampledFrame, VideoFacts, VideoLimits
from provcheck.media.reading import display_name, opened
from provcheck.media.sampling import FrameSampler, SamplingPolicy
from provcheck.media.sniff import ANIMATION_EXTENSIONS, is_animation, is_video_path


def file_sha256(path: Path, limit: int) -> str:
    """The file's sha256, read in chunks; refused (``InputError``) past ``limit`` bytes, or if
    it is not a regular file (``reading.opened``)."""
    with opened(path) as (handle, size):
        if size > limit:
            raise InputError(
                display_name(path), f"video is {size / 1024**3:.1f} GB, over the limit"
            )
        digest = hashlib.sha256()
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
    sha256: str | None = None,
) -> tuple[VideoFacts, Iterator[SampledFrame]]:
    """Open ``source`` (a path or the whole file in memory) and sample it lazily.

    Returns the facts (sha256 now; size, duration and counts as sampling goes) and an iterator of
    kept frames. Problems raise ``InputError`` naming the video, at open time or while iterating.
    ``previews`` asks the decoder for a thumbnail-size copy of each kept frame as well;
    ``sha256`` of a file, when the caller has it already, spares reading the file twice.
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
        label = name or display_name(source)
        facts = VideoFacts(label, sha256 or file_sha256(source, limits.max_bytes))
        animated = source.suffix.lower() in ANIMATION_EXTENSIONS and is_video_path(source)
        opener = partial(str, source)
    if animated:
        frames = animation_frames(opener, facts, sampler, limits, on_progress)
    else:
        from provcheck.media.container import av_frames

        frames = av_frames(opener, facts, sampler, limits, on_progress, previews)
    return facts, frames
