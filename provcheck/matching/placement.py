"""Place a still in time inside the reference video it matched: which stored frame, and which
other moments the pixels cannot rule out.

The matcher ranks the frames of one video by their evidence, and among frames that differ only
where a ball, a unit or a car moved, that evidence is close to a coin toss: a still taken at 0.9 s
was named the frame at 5.0 s, with a stretch claiming 0.1 s. Here the frames the matcher found
for the video, with the stored frames on either side of its first (a still taken between two
stored frames), are compared with the query where they differ (``matching.moment``). The first
match's frame is kept unless the pixels rule it out; then the frame they favour is reported. The
frames not ruled out become the stretches the report lists: the still's time with the honest
ambiguity around it. Frames of another framing (a camera that panned, a scrolling game) cannot be
laid onto the query alike and are compared by the matcher's evidence instead: one within
``EVIDENCE_MARGIN`` of the first match's is not ruled out.

Needs the references' previews (``db add`` keeps them by default); without them the matcher's
frame and the sampler's stretches are reported as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from weakref import WeakKeyDictionary

import numpy as np

from provcheck.matching.match import Match
from provcheck.matching.moment import Candidate, place, same_framing
from provcheck.matching.references import ReferenceSet
from provcheck.signals.fingerprint import QueryFingerprint
from provcheck.signals.thumbnail import thumbnail_pixels

#: Matches the matcher is asked for when a still is placed: enough frames of the matched video
#: that the one the still was taken from is among them.
PLACEMENT_CANDIDATES = 20
#: Log-odds below the first match's at which a frame of another framing is ruled out.
EVIDENCE_MARGIN = 10.0

#: Per reference set: (source id, item key) -> the video's stored frames as (time, item id).
_FRAMES: WeakKeyDictionary[ReferenceSet, dict[tuple[int, str], list[tuple[float, int]]]] = (
    WeakKeyDictionary()
)


def place_in_time(
    matches: Sequence[Match], query: QueryFingerprint, reference_sets: Sequence[ReferenceSet]
) -> tuple[list[Match], dict[int, list[float]]]:
    """``matches`` with the first match of each reference video placed by its pixels, and per
    placed match (by item id) the times of the other frames the still may show."""
    by_name = {ref.name: ref for ref in reference_sets}
    out = list(matches)
    possible: dict[int, list[float]] = {}
    seen: set[tuple[str, int, str]] = set()
    for match in list(out):
        item = match.item
        key = (match.database, item.source_id, item.item_key)
        ref = by_name.get(match.database)
        if item.frame_time is None or ref is None or key in seen or query.preview is None:
            continue
        seen.add(key)
        placed = _place_one(match, out, query, ref)
        if placed is None:
            continue
        best, times = placed
        if best is not match:  # the placed frame takes the first match's place
            out = [best if m is match else m for m in out if m is not best]
        possible[best.item.id] = times
    return out, possible


def _place_one(
    match: Match, matches: Sequence[Match], query: QueryFingerprint, ref: ReferenceSet
) -> tuple[Match, list[float]] | None:
    item = match.item
    frames = _video_frames(ref, item.source_id, item.item_key)
    position = {item_id: n for n, (_, item_id) in enumerate(frames)}
    if item.id not in position:
        return None
    same = {
        m.item.id: m
        for m in matches
        if (m.database, m.item.source_id, m.item.item_key)
        == (match.database, item.source_id, item.item_key)
    }
    n = position[item.id]
    neighbours = {frames[j][1] for j in (n - 1, n + 1) if 0 <= j < len(frames)}
    with ref.store_lock:
        previews = ref.store.thumbnails(sorted(set(same) | neighbours))
    candidates: dict[int, Candidate] = {}
    mirrored = match.transform == "mirrored"
    for item_id, preview in previews.items():
        pixels = thumbnail_pixels(preview)
        if pixels is not None:
            candidates[item_id] = Candidate(
                pixels, match.query_region, match.reference_region, mirrored
            )
    if item.id not in candidates or query.preview is None:
        return None
    group = same_framing(candidates, item.id)
    placement = place(query.preview, {i: candidates[i] for i in group})
    if placement is None:
        return None
    alive = set(placement.possible)
    alive.update(
        i
        for i, m in same.items()
        if i not in group and m.evidence >= match.evidence - EVIDENCE_MARGIN
    )
    best_id = item.id if item.id in placement.possible else placement.best
    best = match if best_id is None or best_id == item.id else same.get(best_id)
    if best is None:  # a stored neighbour the matcher did not return: the same match, moved
        best = _moved(match, ref, query, best_id, frames)  # type: ignore[arg-type]
    times = sorted(frames[position[i]][0] for i in alive if i != best.item.id and i in position)
    return best, times


def _moved(
    match: Match,
    ref: ReferenceSet,
    query: QueryFingerprint,
    item_id: int,
    frames: Sequence[tuple[float, int]],
) -> Match:
    """``match`` on the neighbouring frame ``item_id`` of the same video: its record, and its own
    hash distances to the query (the keypoint evidence stays the verified frame's)."""
    with ref.store_lock:
        records = ref.store.items([item_id])
    if not records:
        return match
    distances = dict(match.distances)
    for kind in distances:
        hashes = query.variants.get(kind) or []
        if not hashes:
            continue
        codes = np.stack([np.frombuffer(h.bits, dtype=np.uint8) for h in hashes])
        found = ref.item_distance(kind, item_id, codes)
        if found is not None:
            distances[kind] = found[0]
    return replace(match, item=records[0], distances=distances)


def _video_frames(ref: ReferenceSet, source_id: int, item_key: str) -> list[tuple[float, int]]:
    """The stored frames of one video, in time order (read once per scan)."""
    cache = _FRAMES.setdefault(ref, {})
    key = (source_id, item_key)
    if key not in cache:
        with ref.store_lock:
            records = ref.store.items(source_id=source_id)
        cache[key] = sorted(
            (r.frame_time, r.id)
            for r in records
            if r.item_key == item_key and r.frame_time is not None
        )
    return cache[key]
