"""Which of several near-identical frames of one video a still shows: compared where they differ.

Frames of one video taken seconds apart often differ only in a small part of the picture: a ball
in a fixed-camera shot, a unit on a strategy map, a car in a street. Hashes, keypoints and the
correlation over the whole picture all see the same scene in each, so the frame the matcher
names is, among them, close to a coin toss, and a still can be placed seconds from where it was
taken with a stretch that claims a fraction of a second.

The pixels where two candidate frames differ are the ones that can tell them apart. Each
candidate is laid onto the query's own grid where its match places the query (so a camera that
moved between two frames is followed); for each pair, the pixels where the two differ clearly, or
where the query differs clearly from either, are compared, and a candidate the query resembles
clearly less than another there is ruled out. The rest are the frames the still may show: the
time placement the report gives, with every stretch among them. A pair that differs nowhere (a
frozen picture), or only outside the part the query shows (a crop), rules nothing out: the still
is honestly ambiguous between them.

Grey levels are compared after mapping the query's onto the references' by their ranks (a
monotonic tone curve: brightness, contrast, gamma, a thermal palette, greyscale keep ranks).
Works at the reference previews' scale (160 px): a moved object of a few preview pixels counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

#: Grey levels by which two pictures must differ at a pixel for it to tell them apart: above the
#: noise of two separately encoded previews of one picture (WebP at quality 70).
DIFFERENT_GREY = 24.0
#: Fewest such pixels for a pair to be told apart at all.
MIN_TELLING_PIXELS = 4
#: Share of the two candidates' difference by which the query must sit closer to one of them for
#: the other to be ruled out (0: any, 1: the query is the first candidate exactly there).
MIN_MARGIN = 0.3
#: Longest side of the grid the comparison runs on (the reference previews' own size).
GRID_SIDE = 160

Region = tuple[float, float, float, float]  # x, y, w, h as fractions of the picture


@dataclass(frozen=True, slots=True)
class Candidate:
    """A reference frame's preview and where its match places the query on it."""

    pixels: np.ndarray  # RGB or grey preview
    query_region: Region | None = None  # None: the whole picture
    reference_region: Region | None = None
    mirrored: bool = False


@dataclass(frozen=True, slots=True)
class Placement:
    """What the pixels say about which candidate frame a still shows."""

    #: Candidates no other candidate beats: the frames the still may show.
    possible: frozenset[int]
    #: The candidate the query resembles best (most pairwise margin), among ``possible``.
    best: int | None
    #: Pairs that could be compared (differed somewhere the query shows).
    compared: int


#: Largest shift (preview pixels) between two frames' previews for them to count as one framing:
#: only frames of one framing are compared pixel by pixel (the query is laid onto them alike).
SAME_FRAMING_PX = 1.0
#: ... or the largest share of their pixels that may differ by ``DIFFERENT_GREY`` at no shift (a
#: moved object on a plain wall can draw the phase correlation's peak to itself) ...
SAME_FRAMING_SHARE = 0.1
#: ... unless the shift found is larger than this (preview pixels) and explains the difference:
#: a sparse picture (a starfield, a night sky, a thermal scene with a few hot spots) that the
#: camera moved over far differs in few pixels too, but shifted back it differs in almost none.
SAME_FRAMING_SHARE_SHIFT_PX = 4.0


def same_framing(candidates: Mapping[int, Candidate], anchor: int) -> set[int]:
    """The candidates framed as ``anchor`` is: its preview shifted by at most ``SAME_FRAMING_PX``
    (phase correlation), or differing in at most ``SAME_FRAMING_SHARE`` of its pixels where that
    shift does not explain the difference (``SAME_FRAMING_SHARE_SHIFT_PX``). A camera that pans
    or a scrolling game gives each frame its own framing, and laid onto the query by one match's
    regions such frames differ everywhere; a fixed camera, a paused game or a view the camera
    returns to gives one framing."""
    import cv2

    base = _grey(candidates[anchor].pixels).astype(np.float32)
    window = cv2.createHanningWindow((base.shape[1], base.shape[0]), cv2.CV_32F)
    kept = {anchor}
    for item_id, candidate in candidates.items():
        other = _grey(candidate.pixels).astype(np.float32)
        if item_id == anchor or other.shape != base.shape:
            continue
        changed = float((np.abs(base - other) > DIFFERENT_GREY).mean())
        (dx, dy), _response = cv2.phaseCorrelate(base, other, window)
        shift = max(abs(dx), abs(dy))
        if shift <= SAME_FRAMING_PX or (
            changed <= SAME_FRAMING_SHARE
            and (
                shift <= SAME_FRAMING_SHARE_SHIFT_PX
                or _changed_after_shift(base, other, dx, dy) >= changed / 2
            )
        ):
            kept.add(item_id)
    return kept


def _changed_after_shift(base: np.ndarray, other: np.ndarray, dx: float, dy: float) -> float:
    """Share of the overlap where ``other``, moved back by the phase correlation's shift, still
    differs from ``base`` by ``DIFFERENT_GREY`` (1.0 when under a quarter of it overlaps)."""
    sx, sy = round(dx), round(dy)
    height, width = base.shape
    if (height - abs(sy)) * (width - abs(sx)) < base.size / 4:
        return 1.0
    here = base[max(0, -sy) : height - max(0, sy), max(0, -sx) : width - max(0, sx)]
    there = other[max(0, sy) : height - max(0, -sy), max(0, sx) : width - max(0, -sx)]
    return float((np.abs(here - there) > DIFFERENT_GREY).mean())


def place(query: np.ndarray, candidates: Mapping[int, Candidate]) -> Placement | None:
    """Rule out candidate frames (of one video) that the query clearly is not.

    ``query`` is the query's preview (RGB or grey). None when nothing can be compared (no
    candidate could be laid onto the query's grid).
    """
    import cv2

    grey = _grey(query).astype(np.float32)
    height, width = grey.shape
    scale = min(1.0, GRID_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    seen = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    laid: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for item_id, candidate in candidates.items():
        found = _laid_on_grid(candidate, size)
        if found is not None:
            laid[item_id] = found
    if not laid:
        return None
    ids = sorted(laid)
    pictures = np.stack([laid[i][0] for i in ids])
    valid = np.stack([laid[i][1] for i in ids])
    common = valid.any(axis=0)
    reference = np.where(valid, pictures, 0).sum(axis=0) / np.maximum(valid.sum(axis=0), 1)
    tones = _match_tones(seen[common], reference[common])
    seen = seen.copy()
    seen[common] = tones
    n = len(ids)
    margin = np.zeros((n, n), dtype=np.float32)
    off = np.abs(pictures - seen[None])  # how far the query is from each candidate, per pixel
    compared = 0
    for a in range(n):
        for b in range(a + 1, n):
            both = valid[a] & valid[b]
            diff = np.abs(pictures[a] - pictures[b])
            telling = both & (
                (diff > DIFFERENT_GREY) | (off[a] > DIFFERENT_GREY) | (off[b] > DIFFERENT_GREY)
            )
            if int(telling.sum()) < MIN_TELLING_PIXELS:
                continue
            compared += 1
            spread = max(float(diff[telling].mean()), DIFFERENT_GREY / 2)
            margin[a, b] = float(off[b][telling].mean() - off[a][telling].mean()) / spread
            margin[b, a] = -margin[a, b]
    beaten = (margin < -MIN_MARGIN).any(axis=1)
    possible = [ids[k] for k in range(n) if not beaten[k]] or ids
    score = dict(zip(ids, margin.sum(axis=1).tolist(), strict=True))
    best = max(possible, key=lambda i: (score[i], -i))
    return Placement(frozenset(possible), best, compared)


def _laid_on_grid(
    candidate: Candidate, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray] | None:
    """The candidate's matched region resized onto the query grid at the query's matched region,
    with the mask of grid pixels it covers; None if either region is degenerate."""
    import cv2

    grey = _grey(candidate.pixels).astype(np.float32)
    rx0, ry0, rx1, ry1 = _box(candidate.reference_region, grey.shape[1], grey.shape[0])
    qx0, qy0, qx1, qy1 = _box(candidate.query_region, size[0], size[1])
    if rx1 - rx0 < 2 or ry1 - ry0 < 2 or qx1 - qx0 < 2 or qy1 - qy0 < 2:
        return None
    part = grey[ry0:ry1, rx0:rx1]
    if candidate.mirrored:
        part = part[:, ::-1]
    resized = cv2.resize(
        np.ascontiguousarray(part), (qx1 - qx0, qy1 - qy0), interpolation=cv2.INTER_AREA
    )
    picture = np.zeros((size[1], size[0]), dtype=np.float32)
    mask = np.zeros((size[1], size[0]), dtype=bool)
    picture[qy0:qy1, qx0:qx1] = resized
    mask[qy0:qy1, qx0:qx1] = True
    return picture, mask


def _box(region: Region | None, width: int, height: int) -> tuple[int, int, int, int]:
    x, y, w, h = region or (0.0, 0.0, 1.0, 1.0)
    return (
        max(0, round(x * width)),
        max(0, round(y * height)),
        min(width, round((x + w) * width)),
        min(height, round((y + h) * height)),
    )


def _grey(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 2:
        return pixels
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)


def _match_tones(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``values`` replaced by the reference's values at the same rank (quantile mapping)."""
    order = np.argsort(values, kind="stable")
    mapped = np.empty(values.size, dtype=np.float32)
    mapped[order] = np.sort(reference)
    return mapped
