"""Local features (ORB keypoints) for partial matches: crops, captions, screenshots, overlays.

Global hashes describe a whole picture and fail once a re-post crops or surrounds it. Keypoints
with binary descriptors survive that; ``verify`` checks they agree on one geometric transform.
OpenCV is imported lazily: only scans and adds that compute features pay for it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image

#: Keypoints kept per reference item: ~36 bytes each in the database (see README, "Matching").
REFERENCE_FEATURES = 512
#: Keypoints extracted from a query: more than a reference, so a 50% crop still finds its share.
QUERY_FEATURES = 700
#: The strongest keypoints of each reference that go into the in-memory retrieval array (the first
#: rows, which cover the whole 4x4 grid). A 50% crop holds about a quarter of them: with 64, the
#: frame a crop came from drew one or two votes among look-alike frames and was often never
#: verified; 128 found it (benchmarks/robustness.py: 50% crops, centred 0.925 -> 0.975,
#: off-centre 0.923 -> 0.949), and 256 found nothing more.
RETRIEVAL_FEATURES = 128
#: FAST's corner thresholds (grey levels), tried in turn until one finds enough corners
#: (``_detect``). 10 is what every picture was described with before; the lower ones only
#: serve pictures with too few corners at 10.
FAST_THRESHOLDS = (10, 5, 3)
#: Smallest side (pixels) a query is brought up to before detection: ORB needs ~30 px margins.
MIN_DETECT_SIDE = 320
#: Smallest side of a shrunk copy worth detecting on (``extract_scaled``).
MIN_SCALED_SIDE = 120

_MAGIC = b"PCF1"
_HEADER = struct.Struct("<4sHHH")  # magic, count, width, height
_SCALE = 100.0  # keypoint coordinates are stored as uint16 hundredths of a pixel


@dataclass(frozen=True, slots=True)
class Features:
    """Keypoints in working-copy pixels, their 256-bit ORB descriptors, and the frame size.

    Rows are ordered round-robin over a 4x4 grid (strongest first in each cell), so the first
    ``RETRIEVAL_FEATURES`` serve retrieval and still cover every part of the picture."""

    points: np.ndarray  # float32 (n, 2): x, y
    descriptors: np.ndarray  # uint8 (n, 32)
    width: int
    height: int

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def to_blob(self) -> bytes:
        coords = np.clip(np.round(self.points * _SCALE), 0, 65535).astype("<u2")
        header = _HEADER.pack(_MAGIC, len(self), self.width, self.height)
        return header + coords.tobytes() + np.ascontiguousarray(self.descriptors).tobytes()

    @classmethod
    def from_blob(cls, blob: bytes) -> Features:
        magic, n, width, height = _HEADER.unpack_from(blob)
        if magic != _MAGIC:
            raise ValueError("not a provcheck feature blob")
        offset = _HEADER.size
        coords = np.frombuffer(blob, dtype="<u2", count=2 * n, offset=offset).reshape(n, 2)
        desc = np.frombuffer(blob, dtype=np.uint8, count=32 * n, offset=offset + 4 * n)
        return cls(coords.astype(np.float32) / _SCALE, desc.reshape(n, 32), width, height)

    def __add__(self, other: Features) -> Features:
        """Both sets of keypoints in one frame (``self``'s): for verifying with both at once."""
        return Features(
            np.concatenate([self.points, other.points]),
            np.concatenate([self.descriptors, other.descriptors]),
            self.width,
            self.height,
        )

    def mirrored(self) -> Features:
        """Not a feature of the mirrored image (descriptors are not mirror-symmetric): only the
        coordinates flipped, for mapping boxes found on a mirrored query back."""
        points = self.points.copy()
        points[:, 0] = self.width - 1 - points[:, 0]
        return Features(points, self.descriptors, self.width, self.height)


def _spread(
    points: np.ndarray, responses: np.ndarray, size: tuple[int, int], keep: int
) -> np.ndarray:
    """Indices of ``keep`` keypoints chosen round-robin over a 4x4 grid, strongest first in each
    cell, so every part of the picture (and so every large crop) keeps some keypoints."""
    width, height = size
    cells = (
        np.minimum(points[:, 0] * 4 // max(width, 1), 3) * 4
        + np.minimum(points[:, 1] * 4 // max(height, 1), 3)
    ).astype(int)
    order = np.argsort(-responses, kind="stable")
    # Rank of each keypoint among the stronger ones of its cell, without a Python loop (it cost
    # ~1 ms per picture, an eighth of the ORB time on a video frame): group the strength order by
    # cell (stable, so strength order holds inside a group); rank = position - the group's start.
    by_cell = cells[order]
    grouped = np.argsort(by_cell, kind="stable")
    starts = np.searchsorted(by_cell[grouped], by_cell[grouped], side="left")
    rank_in_order = np.empty(len(points), dtype=int)
    rank_in_order[grouped] = np.arange(len(points)) - starts
    rank = np.empty(len(points), dtype=int)
    rank[order] = rank_in_order
    # Round-robin order: any prefix (the retrieval keypoints) still covers the whole frame.
    return np.lexsort((-responses, rank))[:keep]


#: Keypoints found (``_detect``): their points, responses, the OpenCV keypoints (an object array,
#: for describing the chosen ones) and tiers.
Detected = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

#: ORB's shape of the picture pyramid and the descriptor's patch, shared by detection and
#: description (a descriptor depends on these alone, not on the corner threshold or count).
_ORB_SHAPE = {"edgeThreshold": 15, "patchSize": 31}


def _orb(gray: np.ndarray, keep: int, threshold: int) -> Detected | None:
    import cv2

    orb = cv2.ORB_create(nfeatures=keep * 3, fastThreshold=threshold, **_ORB_SHAPE)
    keypoints = orb.detect(gray, None)
    if not keypoints:
        return None
    points = cv2.KeyPoint_convert(keypoints).astype(np.float32).reshape(-1, 2)
    responses = np.array([k.response for k in keypoints], dtype=np.float32)
    objects = np.empty(len(keypoints), dtype=object)
    objects[:] = keypoints
    return points, responses, objects, np.zeros(len(points), dtype=np.int8)


def _describe(gray: np.ndarray, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ORB descriptors of the chosen ``keypoints`` of ``gray``: (rows of ``keypoints`` that have
    one, in their order; the descriptors).

    Describing only the keypoints kept, after choosing them from three candidates each, gives the
    very same descriptors for less: ``extract`` takes 6.2 ms instead of 6.5 on 512 px devset
    frames (median of 3 alternating rounds over 120 frames). OpenCV describes given keypoints
    grouped by pyramid level, so they are handed over in that order and the answer is put back
    in the caller's."""
    import cv2

    if not len(keypoints):
        return np.zeros(0, dtype=int), np.zeros((0, 32), np.uint8)
    by_level = np.argsort([k.octave for k in keypoints], kind="stable")
    given = list(keypoints[by_level])
    described, descriptors = cv2.ORB_create(**_ORB_SHAPE).compute(gray, given)
    if descriptors is None or not described:
        return np.zeros(0, dtype=int), np.zeros((0, 32), np.uint8)
    if len(described) != len(given) or not np.array_equal(
        cv2.KeyPoint_convert(described), cv2.KeyPoint_convert(given)
    ):  # OpenCV dropped or reordered some: find each answer's keypoint by where it lies
        where = {_key(k): row for row, k in zip(by_level.tolist(), given, strict=True)}
        rows = np.array([where[_key(k)] for k in described], dtype=int)
    else:
        rows = by_level
    order = np.argsort(rows, kind="stable")
    return rows[order], descriptors[order]


def _key(keypoint: object) -> tuple[int, float, float]:
    return keypoint.octave, *keypoint.pt  # type: ignore[attr-defined]


def _detect(gray: np.ndarray, keep: int) -> Detected | None:
    """ORB keypoints of a grey picture as every picture is described (three candidates per kept
    keypoint, so that ``_choose`` can choose over the whole frame): their points in that
    picture's pixels, responses, OpenCV keypoints and tiers; None when it finds none.

    FAST's corner threshold adapts to how much the picture shows. Corners found at the first of
    ``FAST_THRESHOLDS`` are tier 0; while fewer than ``keep`` are found, the next threshold adds
    the corners only it finds as the next tier. A detailed picture has plenty at the first and
    is described exactly as before (devset frames: 1,770-2,100 at 10 for a query's 700, 505-810
    on its half-size copy for 300); a soft, hazy or dim one (a sky, a gradient wallpaper,
    footage through haze: 7-540) gets its weaker ones too, after its strong ones."""
    found: Detected | None = None
    for tier, threshold in enumerate(FAST_THRESHOLDS):
        more = _orb(gray, keep, threshold)
        if more is not None and found is not None:
            seen = {(round(x * 2), round(y * 2)) for x, y in found[0].tolist()}
            new = np.array([(round(x * 2), round(y * 2)) not in seen for x, y in more[0].tolist()])
            more = (
                more[0][new],
                more[1][new],
                more[2][new],
                np.full(int(new.sum()), tier, np.int8),
            )
            found = tuple(np.concatenate([a, b]) for a, b in zip(found, more, strict=True))  # type: ignore[assignment]
        elif more is not None:
            found = more
        if found is not None and len(found[0]) >= keep:
            break
    return found


def _choose(found: Detected, size: tuple[int, int], keep: int) -> np.ndarray:
    """Indices of ``keep`` keypoints: spread over the frame (``_spread``), tier by tier, so a
    weaker tier only fills what the stronger left free."""
    points, responses, _descriptors, tiers = found
    chosen: list[np.ndarray] = []
    for tier in np.unique(tiers).tolist():
        left = keep - sum(len(c) for c in chosen)
        if left <= 0:
            break
        rows = np.flatnonzero(tiers == tier)
        chosen.append(rows[_spread(points[rows], responses[rows], size, left)])
    return np.concatenate(chosen) if chosen else np.zeros(0, dtype=int)


def extract(image: Image.Image, keep: int) -> Features:
    """ORB keypoints of an RGB working copy, spread over the frame, strongest first."""
    import cv2

    gray = np.asarray(image.convert("L"))
    height, width = gray.shape
    factor = 1.0
    if min(width, height) < MIN_DETECT_SIDE:
        factor = MIN_DETECT_SIDE / max(min(width, height), 1)
        gray = cv2.resize(
            gray, (round(width * factor), round(height * factor)), interpolation=cv2.INTER_CUBIC
        )
    found = _detect(gray, keep)
    if found is None:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), width, height)
    points = found[0] / factor
    chosen = _choose((points, *found[1:]), (width, height), keep)
    described, descriptors = _describe(gray, found[2][chosen])
    return Features(points[chosen][described], descriptors, width, height)


def extract_scaled(image: Image.Image, factor: float, keep: int) -> Features | None:
    """Keypoints of ``image`` detected on a copy shrunk by ``factor``, in ``image``'s coordinates;
    None when that copy would be too small to hold keypoints.

    A crop of a reference shows its content larger than the reference's working copy does (a 50%
    crop, twice as large), and the reference's keypoints were detected at that working scale.
    ORB's pyramid reaches the coarser scale too, but there the query's keypoints are few and weak,
    outranked by its fine ones: retrieval, which uses the strongest, then finds almost nothing.
    Detecting on a shrunk copy gives the crop keypoints at the reference's own scale."""
    import cv2

    gray = np.asarray(image.convert("L"))
    height, width = gray.shape
    size = (round(width * factor), round(height * factor))
    if min(size) < MIN_SCALED_SIDE:
        return None
    shrunk = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    found = _detect(shrunk, keep)
    if found is None:
        return None
    chosen = _choose(found, size, keep)
    described, descriptors = _describe(shrunk, found[2][chosen])
    # Pixel centres on integers at both scales (as cv2.resize places them).
    points = (found[0][chosen][described] + 0.5) / np.float32(factor) - 0.5
    return Features(points.astype(np.float32), descriptors, width, height)


def extract_region(
    image: Image.Image, box: tuple[int, int, int, int], keep: int, side: int
) -> Features:
    """Keypoints of the part ``box`` (left, top, right, bottom) of ``image``, detected on a copy
    brought up to ``side`` pixels on its longer side, in ``image``'s coordinates.

    References are stored at the working size; a picture shown smaller inside the query (the
    photo in a screenshot of a post) has no counterpart for their finest keypoints, since ORB's
    pyramid only scales down. Detecting on an enlarged copy restores that scale."""
    left, top, right, bottom = box
    region = image.crop(box)
    factor = max(1.0, side / max(region.width, region.height, 1))
    if factor > 1.0:
        region = region.resize(
            (round(region.width * factor), round(region.height * factor)),
            Image.Resampling.BICUBIC,
        )
    found = extract(region, keep)
    points = found.points * np.float32(
        [(right - left) / region.width, (bottom - top) / region.height]
    )
    points += np.float32([left, top])
    return Features(points.astype(np.float32), found.descriptors, image.width, image.height)
