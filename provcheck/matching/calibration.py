"""Confidence: how likely a reported match is right, from the evidence behind it.

Two independent pieces of evidence, each read through a logistic curve, combined as a noisy-OR
(either alone can make a match likely):

- geometry: the number of keypoints that agree on one transform (verify.Verification.inliers);
- the PDQ distance between the query (or its best variant) and the reference.

The curves are set from benchmarks/robustness.py rather than fitted by regression, because the
benchmark leaves nothing to fit on the negative side: no distractor query (unrelated real images
under the same edits) ever reached 4 verified inliers, so the data say only that the operating
point is safe. The geometry curve reads 0.9 at the operating point (``MIN_INLIERS``) and 0.985 at
12 inliers; the PDQ curve reads 0.95 at Meta's threshold (31 bits) and 0.5 at 45 bits, beyond
which only verification reports a match. The benchmark prints, per confidence band, the share of
reported matches that named the right reference (the README keeps the table): that is the check
that the numbers mean what they say. Change these constants only together with that table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from provcheck.matching.agreement import Agreement
from provcheck.matching.geometry import Verification

#: Fewest agreeing keypoints that make a match on geometry alone (the default operating point).
MIN_INLIERS = 8

#: P(right | inliers) = 1 / (1 + exp(-INLIER_SLOPE * (inliers - INLIER_MIDPOINT)))
INLIER_SLOPE, INLIER_MIDPOINT = 0.5, 3.6
#: P(right | PDQ distance d) = 1 / (1 + exp(-PDQ_SLOPE * (PDQ_MIDPOINT - d)))
PDQ_SLOPE, PDQ_MIDPOINT = 0.21, 45.0
#: Log-odds per unit of pixel agreement (``agreement``, a correlation) read on Fisher's
#: z scale (atanh): the scale on which a difference of correlations is about as telling wherever
#: it lies, so 0.97 against 0.94 (frames of one scene, a unit moved) counts about as much as 0.80
#: against 0.60, where a plain correlation would count it less than a sixth as much. 0.96 ->
#: 0.97 is worth 6 inliers, 0.80 -> 0.95 worth 29. It ranks, it never decides: confidence leaves
#: it out, so a match is reported or not exactly as before, and only which of several verified
#: frames comes first can change.
AGREEMENT_WEIGHT = 20.0
#: Correlations are read up to this (z = 3.8): past it, resampling noise is all that is left.
MAX_AGREEMENT = 0.999
#: Log-odds lost per unit of colour shift (``provcheck.agreement.Agreement.colour_shift``): a
#: tint of 10 grey levels per channel (0.04) costs 6, as much as 12 inliers. It ranks only, as
#: the agreement does: among frames that all verify and correlate, the one whose colours the
#: query shows unchanged is the likelier source (a game's time of day tints the same view from
#: one moment to the next); a re-post that recolours shifts every frame of the scene alike.
COLOUR_SHIFT_WEIGHT = 150.0
#: Whole-picture correlation a detailed match found by PDQ alone needs when pHash disagrees.
HASH_AGREEMENT = 0.5
#: Correlation where the keypoints place the query that a verified match of low detail needs.
GEOMETRY_AGREEMENT = 0.5
#: Whole-picture correlation and colour shift a low-detail match found by its hashes needs.
LOW_DETAIL_AGREEMENT, LOW_DETAIL_SHIFT = 0.9, 0.06


def _logistic(x: float) -> float:
    if x < -60:
        return 0.0
    return 1.0 / (1.0 + math.exp(-x))


def evidence(
    distances: Mapping[str, int],
    geometry: Verification | None,
    agreement: float | None = None,
    colour_shift: float = 0.0,
) -> float:
    """Log-odds of both curves summed, signed: it does not saturate as confidence does, so it
    ranks matches that all read 1.0. A frame whose whole picture also hashes close beats another
    that only shares keypoints with the query (a HUD, a logo, the overlap of a scrolling scene),
    and of frames that share them, the one whose pixels agree with the query where the keypoints
    place it (``agreement``; a negative correlation, as of a thermal palette, counts as none)
    and whose colours it keeps (``colour_shift``).

    The agreement is a correlation over the part of the query the reference covers, and it
    counts in proportion to the square root of that part (``coverage``): the statistical weight
    of a correlation grows with the square root of the pixels compared (Fisher's z has standard
    error 1/sqrt(n - 3)). A frame the scene had partly scrolled out of agrees over a smaller,
    often smoother, region, and read as if it covered the query it outranked the frame a crop came
    from (0.952 over two thirds of a Wesnoth crop against 0.931 over all of it)."""
    score = INLIER_SLOPE * (geometry.inliers - INLIER_MIDPOINT) if geometry else 0.0
    if geometry is not None and agreement is not None:
        z = math.atanh(min(max(0.0, agreement), MAX_AGREEMENT))
        _x, _y, width, height = geometry.query_box
        coverage = min(max(width * height, 0.0), 1.0)
        score += AGREEMENT_WEIGHT * z * math.sqrt(coverage) - COLOUR_SHIFT_WEIGHT * colour_shift
    pdq = distances.get("pdq")
    if pdq is not None:
        score += PDQ_SLOPE * (PDQ_MIDPOINT - pdq)
    return score


def calibrated_confidence(distances: Mapping[str, int], geometry: Verification | None) -> float:
    p_geometry = _logistic(INLIER_SLOPE * (geometry.inliers - INLIER_MIDPOINT)) if geometry else 0.0
    pdq = distances.get("pdq")
    p_hash = _logistic(PDQ_SLOPE * (PDQ_MIDPOINT - pdq)) if pdq is not None else 0.0
    return round(1.0 - (1.0 - p_geometry) * (1.0 - p_hash), 4)


def needs_pixels(distances: Mapping[str, int], max_phash: int, low_detail: bool) -> bool:
    """Whether a match found by its PDQ hash alone must also agree in its pixels
    (``whole_picture.whole_agreement``) before it is reported: when either picture has low
    detail, or when pHash does not confirm PDQ."""
    return low_detail or distances.get("phash", 0) > max_phash


def is_same_picture(
    kinds_hit: set[str],
    geometry: Verification | None,
    *,
    has_features: bool,
    distances: Mapping[str, int],
    max_pdq: int,
    max_phash: int = 8,
    query_low: bool = False,
    reference_low: bool = False,
    agreement: Agreement | None = None,
) -> bool:
    """The decision. Same picture when the keypoints agree geometrically; if either picture
    has low detail, the part they place the query on must also agree in its pixels
    (``GEOMETRY_AGREEMENT``, where previews exist): two Xfce wallpapers share their mouse logo,
    the only detail either has, and verified on it alone.

    Else by PDQ within its threshold (thumbnails too small for keypoints, whole copies), with
    the pixels as a check where the hashes say little:

    - both pictures detailed (PDQ quality 50 or more): pHash within its threshold too, or the
      whole previews correlating at least ``HASH_AGREEMENT`` (two stripe patterns of one
      period hash 20 PDQ bits apart and 32 pHash bits apart; a caption bar or a logo moves
      pHash but not the pixels);
    - the query of low detail (``query_low``: soft, hazy, dim) and the reference detailed: the
      reference's hash is specific, so both hashes within their thresholds and the previews'
      grey levels correlating at least ``LOW_DETAIL_AGREEMENT`` (colours may have been edited);
    - the reference of low detail (``reference_low``: a gradient wallpaper, a sky): the same,
      and the colours agreeing too (``LOW_DETAIL_SHIFT``; grey levels when either side is
      grey): two gradients at nearly one angle correlate as well as a gradient and its blurred
      copy, but not in colour.

    Without a preview (the bundled pack, ``db add --no-thumbnails``) a detailed pair decides by
    PDQ as before, and a low-detail pair cannot. Without stored keypoints (hash-only imports)
    any hash kind within its threshold decides, as hash-sharing lists intend."""
    low_detail = query_low or reference_low
    if geometry is not None:
        # On a picture of low detail the keypoints crowd on what little it shows: a logo two
        # wallpapers share verified 9-13 inliers. The pixels where they place the query decide.
        return not low_detail or agreement is None or agreement.correlation >= GEOMETRY_AGREEMENT
    if "pdq" in kinds_hit and distances.get("pdq", 256) <= max_pdq:
        if not needs_pixels(distances, max_phash, low_detail):
            return True
        if not low_detail:
            return agreement is None or agreement.correlation >= HASH_AGREEMENT
        return (
            distances.get("phash", 64) <= max_phash
            and agreement is not None
            and agreement.correlation >= LOW_DETAIL_AGREEMENT
            and (not reference_low or agreement.colour_shift <= LOW_DETAIL_SHIFT)
        )
    return bool(kinds_hit) and not has_features and not low_detail
