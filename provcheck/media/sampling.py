"""Which frames of a video to keep: pure decisions on (time, cheap hash) pairs, no decoding.

A video is sampled by watching how far its picture drifts, in PDQ bits, from the last frame kept.
That is the same distance the matcher later uses, so the sampling density follows what matching
needs: a still grabbed at any moment lies between two kept frames that are each at most
``change_distance`` bits away from their neighbours, so it is close to one of them. A frame is kept

* first (the first frame with enough detail to hash),
* when it has drifted ``change_distance`` bits or more from the last kept frame (a scene change or
  fast motion),
* when ``max_gap_s`` seconds have passed since the last kept frame, unless the picture is truly
  unchanged: within ``duplicate_distance`` PDQ bits of it *and* no pixel of a small grey copy
  (``thumbnail``, <= 64 px) moved by more than ``unchanged_grey`` levels (a paused game, a frozen
  shot, a one-colour video: nothing new to store).

PDQ alone cannot be the change test for time: it summarises a picture's layout, so a fixed camera
where only a ball, a person or a vehicle moves, a slow pan or a strategy map where one unit walks
keeps its PDQ hash within a few bits for many seconds. A still of such a scene can then only be
placed to the stored frame before it, up to tens of seconds early. The grey copy sees what PDQ
does not (a ball of 15 px in a 576-line picture still moves several grey levels of a 64 px copy),
so every ``max_gap_s`` a changing picture keeps a frame and a stored frame stands for at most that
long; only a truly unchanged picture stretches further, and then the stretch is honest. A camera's
sensor noise counts as change (a noisy static shot stores a frame every ``max_gap_s``: 30 a minute
at the default), encoder noise on a frozen picture does not (it moves a 64 px copy by 0-1 levels).

Frames with nothing to compare (flat, ``signals.detail``: black frames, blank screens, the bottom
of a fade) are never kept: they would only produce false matches. Frames of low detail (haze,
smoke, a thermal camera's soft picture, dusk: PDQ quality under ``MIN_QUALITY``) are kept, as low-
detail stills are stored: archived footage is often exactly that, and the matcher asks a low-detail
match for pixel evidence before it reports it. Without a thumbnail to measure flatness on, a frame
is judged by PDQ's quality alone, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from provcheck.signals.detail import is_flat_grey
from provcheck.signals.hashes import MIN_QUALITY


@dataclass(frozen=True, slots=True)
class SamplingPolicy:
    """How densely a video is sampled. The defaults were chosen by ``benchmarks/video.py``."""

    #: Keep a frame once it is this many PDQ bits from the last kept one (of 256; the match
    #: threshold is 31, so in-between frames stay well inside it even after re-encoding).
    change_distance: int = 24
    #: Keep a frame at least this often (seconds), unless it is a near-duplicate of the last one.
    max_gap_s: float = 2.0
    #: A periodic sample this close (PDQ bits) to the last kept frame may be a duplicate ...
    duplicate_distance: int = 8
    #: ... and is one (skipped) when no pixel of its grey thumbnail differs from the last kept
    #: frame's by more than this many grey levels (0-255).
    unchanged_grey: int = 3

    def __post_init__(self) -> None:
        if self.max_gap_s <= 0:
            raise ValueError("max_gap_s must be positive")
        if not 0 <= self.duplicate_distance <= self.change_distance:
            raise ValueError("need 0 <= duplicate_distance <= change_distance")
        if self.unchanged_grey < 0:
            raise ValueError("unchanged_grey must not be negative")


#: How a posted clip is sampled: like a reference, but a periodic sample is kept even when it
#: repeats the last one, so a static stretch of the clip still counts towards its matched range.
QUERY_POLICY = SamplingPolicy(duplicate_distance=0)


def hamming(a: bytes, b: bytes) -> int:
    """Bits that differ between two packed hashes of the same length."""
    return int(
        np.bitwise_count(np.frombuffer(a, dtype=np.uint8) ^ np.frombuffer(b, dtype=np.uint8)).sum()
    )


#: Longest side of the grey thumbnail the sampler compares (``thumbnail``).
THUMBNAIL_SIDE = 64


def thumbnail(grey: np.ndarray) -> np.ndarray:
    """A grey copy at most ``THUMBNAIL_SIDE`` px on its longer side, by averaging pixel blocks
    (``grey`` is the sampler's 128 px probe: halved; larger inputs by whole blocks)."""
    height, width = grey.shape
    step = max(1, -(-max(height, width) // THUMBNAIL_SIDE))
    if min(height, width) < step:  # a sliver (an animation's 1-pixel-wide frame): widen it
        grey = np.pad(grey, ((0, max(0, step - height)), (0, max(0, step - width))), mode="edge")
        height, width = grey.shape
    h, w = max(1, height // step), max(1, width // step)
    blocks = grey[: h * step, : w * step].reshape(h, step, w, step)
    return blocks.mean(axis=(1, 3), dtype=np.float32).round().astype(np.int16)


def changed(a: np.ndarray | None, b: np.ndarray | None, grey_levels: int) -> bool:
    """Whether two thumbnails differ anywhere by more than ``grey_levels`` (True if unknown)."""
    if a is None or b is None or a.shape != b.shape:
        return True
    return int(np.abs(a - b).max()) > grey_levels


class FrameSampler:
    """Feed it every analysed frame in time order; it answers keep or skip.

    Holds only the last kept frame's hash, thumbnail and time, so it runs in constant memory on
    any length.
    """

    def __init__(self, policy: SamplingPolicy | None = None) -> None:
        self.policy = policy or SamplingPolicy()
        self._last_bits: bytes | None = None
        self._last_thumb: np.ndarray | None = None
        self._last_time = 0.0
        self.offered = 0
        self.kept = 0

    def offer(
        self, time_s: float, bits: bytes, quality: int, thumb: np.ndarray | None = None
    ) -> bool:
        """Decide for one frame at ``time_s`` whose (cheap) PDQ hash is ``bits`` and whose grey
        thumbnail (``thumbnail``) is ``thumb`` (None: judged by PDQ alone)."""
        self.offered += 1
        if is_flat_grey(thumb) if thumb is not None else quality < MIN_QUALITY:
            return False
        if self._last_bits is None:
            return self._keep(time_s, bits, thumb)
        distance = hamming(bits, self._last_bits)
        policy = self.policy
        if distance >= policy.change_distance:
            return self._keep(time_s, bits, thumb)
        if time_s - self._last_time >= policy.max_gap_s and (
            distance > policy.duplicate_distance
            or (thumb is not None and changed(thumb, self._last_thumb, policy.unchanged_grey))
        ):
            return self._keep(time_s, bits, thumb)
        return False

    def _keep(self, time_s: float, bits: bytes, thumb: np.ndarray | None) -> bool:
        self._last_bits = bits
        self._last_thumb = thumb
        self._last_time = time_s
        self.kept += 1
        return True
