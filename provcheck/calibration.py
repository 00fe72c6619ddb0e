"""Confidence: how likely a reported match is right, from the evidence behind it.

Two independent pieces of evidence, each turned into a probability by a logistic curve whose
parameters were fitted on benchmarks/robustness.py (true matches against distractors never added,
under the same edits), then combined as a noisy-OR: either piece alone can make a match likely.

- geometry: the number of keypoints that agree on one transform (verify.Verification.inliers);
- PDQ distance between the query (or its best variant) and the reference.

The parameters are data, documented in the README with the figures they were fitted on; refit them
with ``python benchmarks/robustness.py --fit`` when the matcher changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from provcheck.verify import Verification

#: Fewest agreeing keypoints that make a match on geometry alone (the default operating point).
MIN_INLIERS = 12

#: P(right | inliers) = 1 / (1 + exp(-INLIER_SLOPE * (inliers - INLIER_MIDPOINT)))
INLIER_SLOPE, INLIER_MIDPOINT = 0.5, 8.0
#: P(right | PDQ distance d) = 1 / (1 + exp(-PDQ_SLOPE * (PDQ_MIDPOINT - d)))
PDQ_SLOPE, PDQ_MIDPOINT = 0.25, 40.0


def _logistic(x: float) -> float:
    if x < -60:
        return 0.0
    return 1.0 / (1.0 + math.exp(-x))


def calibrated_confidence(distances: Mapping[str, int], geometry: Verification | None) -> float:
    p_geometry = _logistic(INLIER_SLOPE * (geometry.inliers - INLIER_MIDPOINT)) if geometry else 0.0
    pdq = distances.get("pdq")
    p_hash = _logistic(PDQ_SLOPE * (PDQ_MIDPOINT - pdq)) if pdq is not None else 0.0
    return round(1.0 - (1.0 - p_geometry) * (1.0 - p_hash), 4)
