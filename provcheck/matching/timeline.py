"""Where in a reference video a matched picture is shown: honest time ranges, not one guess.

A video is stored as sampled frames, and a stored frame stands for the stretch of video up to the
next stored frame: sampling stores a new frame as soon as the picture drifts, so nothing in
between looks different enough to be stored. For a still that matches a frame, the pixels only
say "somewhere in that stretch"; in a frozen or static shot the stretch can be many seconds long.
And a video may show the same picture again later (a menu, a paused game, a camera returning to
the same view): the still cannot tell those moments apart either.

So a match on a video frame carries every stretch that shows its picture: its own first, then the
other stored frames of the same video whose PDQ hash is within ``SAME_PICTURE_BITS`` of it (the
distance at which sampling itself calls two frames the same picture), each to the next frame
stored after it. Reporting them lets a reader see the ambiguity instead of trusting a time that
the picture cannot back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from provcheck.matching.match import Match
from provcheck.matching.references import ReferenceSet
from provcheck.media.sampling import SamplingPolicy
from provcheck.store import ItemRecord

#: Two stored frames of one video whose PDQ hashes are this close show the same picture: the
#: sampler's own duplicate distance, so "same picture" means one thing throughout.
SAME_PICTURE_BITS = SamplingPolicy().duplicate_distance
#: At most this many stretches are reported per match (the matched frame's own included).
MAX_STRETCHES = 10

#: A stretch of a reference video: (start, end) seconds; end None after the last stored frame.
Stretch = tuple[float, float | None]


def with_stretches(
    matches: Sequence[Match],
    reference_sets: Sequence[ReferenceSet],
    also: Mapping[int, Sequence[float]] | None = None,
) -> list[Match]:
    """``matches`` with ``shown_at`` filled in for matches on video frames (stills unchanged).
    ``also`` names, per matched item id, other frame times of its video the still may show
    (``matching.placement``): their stretches are reported too."""
    by_name = {ref.name: ref for ref in reference_sets}
    out = []
    for match in matches:
        ref = by_name.get(match.database)
        if match.item.frame_time is None or ref is None:
            out.append(match)
            continue
        extra = (also or {}).get(match.item.id, ())
        out.append(replace(match, shown_at=tuple(stretches_of(match, ref, extra))))
    return out


def stretches_of(match: Match, ref: ReferenceSet, also: Sequence[float] = ()) -> list[Stretch]:
    """The matched frame's stretch, then the other stretches of its video that show the same
    picture (or that ``also`` names), in time order; overlapping or touching stretches merged."""
    item = match.item
    if item.frame_time is None:  # a still: no time to place
        return []
    times = [item.frame_time, *also]
    with ref.store_lock:
        for other in _same_picture(ref, item.id):
            same_video = (other.source_id, other.item_key) == (item.source_id, item.item_key)
            if same_video and other.frame_time not in (None, item.frame_time):
                times.append(other.frame_time)
        # Bounded work however often a picture recurs (a menu shown all through a long video):
        # the report lists MAX_STRETCHES at most, earliest first.
        wanted = [item.frame_time, *sorted(set(times[1:]))[: 4 * MAX_STRETCHES]]
        spans = [(t, ref.store.next_frame_time(item.source_id, item.item_key, t)) for t in wanted]
    own = next(span for span in spans if span[0] == item.frame_time)
    merged = _merge(sorted(spans, key=lambda span: span[0]))
    first = next(span for span in merged if _contains(span, own[0]))
    others = [span for span in merged if span is not first]
    return [first, *others][:MAX_STRETCHES]


def _same_picture(ref: ReferenceSet, item_id: int) -> list[ItemRecord]:
    """Stored items whose PDQ hash is within ``SAME_PICTURE_BITS`` of ``item_id``'s."""
    arrays, index = ref.arrays.get("pdq"), ref.indexes.get("pdq")
    if arrays is None or index is None:
        return []
    lo, hi = np.searchsorted(arrays.item_ids, [item_id, item_id + 1])
    ids: set[int] = set()
    for code in arrays.codes[lo:hi]:
        hits = index.query(code, SAME_PICTURE_BITS)
        ids.update(int(i) for i in arrays.item_ids[hits.rows].tolist())
    ids.discard(item_id)
    return ref.store.items(sorted(ids)) if ids else []


def _contains(span: Stretch, t: float) -> bool:
    return span[0] <= t and (span[1] is None or t < span[1] or t == span[0])


def _merge(spans: list[Stretch]) -> list[Stretch]:
    """Merge time-ordered stretches that overlap or touch (consecutive frames of one picture)."""
    merged: list[Stretch] = []
    for start, end in spans:
        if merged:
            last_start, last_end = merged[-1]
            if last_end is None or start <= last_end:
                joined = None if last_end is None or end is None else max(last_end, end)
                merged[-1] = (last_start, joined)
                continue
        merged.append((start, end))
    return merged
