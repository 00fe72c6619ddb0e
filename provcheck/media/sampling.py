"""Which frames of a video to keep: pure decisions on (time, cheap hash) pairs, no decoding.

A video is sampled by watching how far its picture drifts, in PDQ bits, from the last frame kept.
That is the same distance the matcher later uses, so the sampling density follows what matching
needs: a still grabbed at any moment lies between two kept frames that are each at most
``change_distance`` bits away from their neighbours, so it is close to one of them. A frame is kept

* first (the first frame with enough detail to hash),
* when it has drifted ``change_distance`` bits or more from the last kept frame (a scene change or
  fast motion),
* when ``max_gap_s`` seconds have passed since the last kept frame, unless it is still within
  ``duplicate_distance`` bits of it (a static shot, a one-colour video: nothing new to store).

Frames too flat to hash (PDQ quality below ``MIN_QUALITY``: fades, black frames) are never kept:
they would only produce false matches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from provcheck.signals.hashes import MIN_QUALITY


@dataclass(frozen=True, slots=True)
class SamplingPolicy:
    """How densely a video is sampled. The defaults were chosen by ``benchmarks/video.py``."""

    #: Keep a frame once it is this many PDQ bits from the last kept one (of 256; the match
    #: threshold is 31, so in-between frames stay well inside it even after re-encoding).
    change_distance: int = 24
    #: Keep a frame at least this often (seconds), unless it is a near-duplicate of the last one.
    max_gap_s: float = 2.0
    #: A periodic sample this close (PDQ bits) to the last kept frame is a duplicate and skipped.
    duplicate_distance: int = 8

    def __post_init__(self) -> None:
        if self.max_gap_s <= 0:
            raise ValueError("max_gap_s must be positive")
        if not 0 <= self.duplicate_distance <= self.change_distance:
            raise ValueError("need 0 <= duplicate_distance <= change_distance")


#: How a posted clip is sampled: like a reference, but a periodic sample is kept even when it
#: repeats the last one, so a static stretch of the clip still counts towards its matched range.
QUERY_POLICY = SamplingPolicy(duplicate_distance=0)


def hamming(a: bytes, b: bytes) -> int:
    """Bits that differ between two packed hashes of the same length."""
    return int(
        np.bitwise_count(np.frombuffer(a, dtype=np.uint8) ^ np.frombuffer(b, dtype=np.uint8)).sum()
    )


class FrameSampler:
    """Feed it every analysed frame in time order; it answers keep or skip.

    Holds only the last kept frame's hash and time, so it runs in constant memory on any length.
    """

    def __init__(self, policy: SamplingPolicy | None = None) -> None:
        self.policy = policy or SamplingPolicy()
        self._last_bits: bytes | None = None
        self._last_time = 0.0
        self.offered = 0
        self.kept = 0

    def offer(self, time_s: float, bits: bytes, quality: int) -> bool:
        """Decide for one frame at ``time_s`` whose (cheap) PDQ hash is ``bits``."""
        self.offered += 1
        if quality < MIN_QUALITY:
            return False
        if self._last_bits is None:
            return self._keep(time_s, bits)
        distance = hamming(bits, self._last_bits)
        policy = self.policy
        if distance >= policy.change_distance:
            return self._keep(time_s, bits)
        if time_s - self._last_time >= policy.max_gap_s and distance > policy.duplicate_distance:
            return self._keep(time_s, bits)
        return False

    def _keep(self, time_s: float, bits: bytes) -> bool:
        self._last_bits = bits
        self._last_time = time_s
        self.kept += 1
        return True
