"""Decode an animated GIF, WebP or PNG with Pillow into sampled frames: the animation half of
``video`` (containers are ``container``'s).

Pillow draws every frame on the whole canvas, so the cost of an animation is its frame count times
its canvas, whatever its file size: both are read from the header and checked against the
decoding budget before the first frame is decoded, and each frame is charged as it comes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from PIL import Image

from provcheck.errors import InputError
from provcheck.media.frames import (
    PROBE_SIZE,
    Progress,
    SampledFrame,
    VideoFacts,
    VideoLimits,
    charge_frame,
    check_budget,
    check_geometry,
    check_running,
    probe_hash,
)
from provcheck.media.images import CORRUPT, quiet_decoding, to_working_copy
from provcheck.media.sampling import FrameSampler, thumbnail
from provcheck.signals.hashes import WORKING_SIZE


def animation_frames(
    opener: Callable[[], Any],
    facts: VideoFacts,
    sampler: FrameSampler,
    limits: VideoLimits,
    on_progress: Progress | None,
) -> Iterator[SampledFrame]:
    t = 0.0
    try:
        with quiet_decoding():
            image = Image.open(opener())
            total_frames = getattr(image, "n_frames", 1)  # read from the headers, not decoded
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(facts.name, "animation is too large to decode safely") from None
    except CORRUPT as exc:
        raise InputError(facts.name, f"corrupt or truncated animation ({exc})") from None
    with image:
        facts.codec = (image.format or "image").lower()
        facts.width, facts.height = image.size
        check_geometry(facts, limits)
        check_budget(facts, total_frames, limits.max_animation_pixels)
        while True:
            # Warnings are caught around the decoding only, never across a ``yield``: the
            # filter is global and the caller's code runs between frames.
            with quiet_decoding():
                try:
                    frame = _next_frame(image, facts, limits, t)
                except EOFError:
                    break
                if frame is None:
                    break
                working, bits, quality, probe, delay = frame
            if on_progress is not None:
                on_progress(facts.frames_decoded, total_frames)
            if sampler.offer(t, bits, quality, probe):
                facts.frames_kept += 1
                yield SampledFrame(round(t, 3), working)
            t += delay
        facts.duration = t


def _next_frame(
    image: Image.Image, facts: VideoFacts, limits: VideoLimits, t: float
) -> tuple[Image.Image, bytes, int, np.ndarray, float] | None:
    """Decode the next frame: its working copy, probe hash and quality, the sampler's thumbnail
    and how long it shows; None once a damaged animation breaks off (noted in the facts)."""
    try:
        if facts.frames_decoded:
            image.seek(facts.frames_decoded)
        facts.frames_decoded += 1
        facts.duration = t
        check_running(facts, limits, t)
        charge_frame(facts, limits.max_animation_pixels)
        working = to_working_copy(image, WORKING_SIZE)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(facts.name, "animation is too large to decode safely") from None
    except EOFError:
        raise
    except CORRUPT as exc:
        if facts.frames_decoded <= 1:
            raise InputError(facts.name, f"corrupt or truncated animation ({exc})") from None
        facts.warnings.append(f"animation truncated after {facts.frames_decoded - 1} frames")
        return None
    small = working.convert("L")
    small.thumbnail((PROBE_SIZE, PROBE_SIZE), Image.Resampling.BOX)
    bits, quality = probe_hash(np.asarray(small))
    # GIF delays under 20 ms are shown as 100 ms by browsers; do the same.
    delay = image.info.get("duration") or 100
    shown = (delay if delay >= 20 else 100) / 1000.0
    return working, bits, quality, thumbnail(np.asarray(small)), shown
