"""Find the picture inside a query: trim letterbox/pillarbox bars and uniform margins, and pick the
photo out of a screenshot of a social post (the largest block that is not the app's background
colour). Its hashes are searched as well as the whole query's.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: Side of the analysis copy: enough to place a border within ~1% of the frame.
ANALYSIS_SIDE = 160
#: A row or column belongs to the picture when this share of its pixels differs from the
#: background (the commonest colour on the frame's edge: bars, margins, the app's UI).
DENSE = 0.75
#: Share of the frame's edge that must be one colour for the frame to have a background at all.
EDGE_SHARE = 0.5
#: Distance (sum over RGB, 0-765) within which a pixel counts as the background colour.
BACKGROUND_TOLERANCE = 30
#: The inner picture must cover at least this share of the query's area, and differ from the
#: whole by at least the second number, or it is not worth a second search.
MIN_AREA, MAX_AREA = 0.12, 0.92


def _foreground(rgb: np.ndarray) -> np.ndarray | None:
    """Pixels that differ from the background: the commonest colour along the frame's edge.
    None when no colour dominates the edge (a plain photo, not a framed one)."""
    edge = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.int32)
    quantised = edge // 8
    keys, counts = np.unique(
        quantised[:, 0] * 1024 + quantised[:, 1] * 32 + quantised[:, 2], return_counts=True
    )
    key = keys[np.argmax(counts)]
    background = edge[(quantised[:, 0] * 1024 + quantised[:, 1] * 32 + quantised[:, 2]) == key]
    if len(background) < EDGE_SHARE * len(edge):
        return None
    colour = background.mean(axis=0)
    return np.abs(rgb.astype(np.int32) - colour).sum(axis=2) > BACKGROUND_TOLERANCE


def _longest_run(flags: np.ndarray) -> tuple[int, int]:
    best, start, best_span = (0, 0), None, 0
    for i, flag in enumerate([*flags.tolist(), False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if i - start > best_span:
                best, best_span = (start, i), i - start
            start = None
    return best


def inner_box(image: Image.Image) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the picture inside ``image``, or None when the picture is
    the whole image (or nothing picture-like stands out)."""
    width, height = image.size
    scale = ANALYSIS_SIDE / max(width, height)
    small = image.convert("RGB").resize(
        (max(8, round(width * scale)), max(8, round(height * scale))), Image.Resampling.BOX
    )
    mask = _foreground(np.asarray(small))
    if mask is None:
        return None
    found = []
    if (by_rows := _band(mask)) is not None:
        found.append(by_rows)
    if (by_cols := _band(mask.T)) is not None:
        found.append((by_cols[1], by_cols[0], by_cols[3], by_cols[2]))
    if not found:
        return None
    top, left, bottom, right = min(found, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    sh, sw = mask.shape
    area = (bottom - top) * (right - left) / (sh * sw)
    if not MIN_AREA <= area <= MAX_AREA:
        return None
    fx, fy = width / sw, height / sh
    return (round(left * fx), round(top * fy), round(right * fx), round(bottom * fy))


def _band(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right) in mask cells: the longest run of dense rows, then the longest
    run of dense columns within it."""
    rows = _longest_run(mask.mean(axis=1) >= DENSE)
    if rows[1] - rows[0] < 4:
        return None
    cols = _longest_run(mask[rows[0] : rows[1]].mean(axis=0) >= DENSE)
    if cols[1] - cols[0] < 4:
        return None
    return rows[0], cols[0], rows[1], cols[1]


def inner_picture(image: Image.Image) -> Image.Image | None:
    box = inner_box(image)
    return None if box is None else image.crop(box)
