"""Decode an animated GIF, WebP or PNG with Pillow into sampled frames: the animation half of
``video`` (containers are ``container``'s)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from PIL import Image, ImageSequence

from provcheck.errors import InputError
from provcheck.media.frames import (
    PROBE_SIZE,
    Progress,
    SampledFrame,
    VideoFacts,
    VideoLimits,
    check_geometry,
    check_running,
    probe_hash,
)
from provcheck.media.images import to_working_copy
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
                    working = to_working_copy(frame, WORKING_SIZE)
                    small = working.convert("L")
                    small.thumbnail((PROBE_SIZE, PROBE_SIZE), Image.Resampling.BOX)
                    bits, quality = probe_hash(np.asarray(small))
                    if on_progress is not None:
                        on_progress(facts.frames_decoded, total_frames)
                    if sampler.offer(t, bits, quality, thumbnail(np.asarray(small))):
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
