"""Per-frame matches of a posted clip -> matched segments (query time range -> reference range).

Pure: takes the matches of each sampled query frame, in time order, and groups them into runs that
show the same reference video advancing in step with the query. A re-posted clip of a reference
video gives one segment per stretch it reuses; a still reference matched by several query frames
gives one segment without a reference range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from provcheck.matching.match import Match

#: How far (seconds) the reference may drift from moving in step with the query within a segment.
#: Both sides are sampled sparsely (a kept frame can stand for a few seconds of static picture),
#: so this is a few sampling gaps, not a frame.
OFFSET_TOLERANCE_S = 4.0
#: A segment ends when this many seconds of query pass without a frame matching it.
MAX_QUERY_GAP_S = 6.0


@dataclass(frozen=True, slots=True)
class FrameMatches:
    """The matches (best first) found for one sampled frame of the query, at ``time`` seconds.

    ``until`` is where the stretch this frame stands for ends (the next sampled frame, or the end
    of the clip): sampling skips frames that repeat it, so they are part of what it matched.
    """

    time: float
    matches: Sequence[Match]
    until: float | None = None


@dataclass(slots=True)
class Segment:
    """A stretch of the query that reuses one reference (video, or still)."""

    query_start: float
    query_end: float
    reference_start: float | None  # None when the reference is a still
    reference_end: float | None
    frames: int  # sampled query frames that matched inside this stretch
    best: Match  # the strongest frame match: carries the reference's provenance
    #: The evidence of the segment: each matching query frame's evidence (log-odds of its match,
    #: ``Match.evidence``; none below 0) summed, so distance, inliers, pixel agreement and how
    #: much of the clip it covers all count.
    evidence: float = 0.0
    #: The share of the clip's length this segment covers (0..1; 0 when the length is unknown).
    coverage: float = 0.0
    #: Time in the clip of the frame whose match is ``best`` (the segment's keyframe).
    best_at: float = 0.0
    _offsets: list[float] = field(default_factory=list, repr=False)
    _frame_evidence: dict[float, float] = field(default_factory=dict, repr=False)

    @property
    def key(self) -> tuple[str, int, str]:
        return reference_key(self.best)

    @property
    def confidence(self) -> float:
        return self.best.confidence

    @property
    def aligned(self) -> bool:
        """A time-aligned run: a reference video whose frames matched two or more frames of the
        clip at one offset (the segment keeps only frames within ``OFFSET_TOLERANCE_S`` of its
        offset), so the clip's time maps onto the video's. A still, or one frame, is no run."""
        return self.reference_start is not None and self.frames >= 2


def reference_key(match: Match) -> tuple[str, int, str]:
    """What counts as 'the same reference': one video (its frames share an item key) or a still."""
    item = match.item
    return (match.database, item.source_id, item.item_key)


def find_segments(
    frames: Sequence[FrameMatches],
    *,
    offset_tolerance: float = OFFSET_TOLERANCE_S,
    max_gap: float = MAX_QUERY_GAP_S,
    duration: float | None = None,
) -> list[Segment]:
    """Group per-frame matches into segments, strongest first: time-aligned runs of a reference
    video before anything else, then by evidence (``Segment.evidence``); ties: more frames,
    earliest, then reference. ``duration`` of the clip gives each segment its coverage.

    Every match of a frame is considered, not only the best: a frame that matches two references
    (a reference video and a still taken from it) extends both stories. Frame counts alone used to
    rank them, and a still of the same game that every frame of a clip matched weakly (PDQ 92, a
    few inliers on a shared HUD) came before the exact video at PDQ 0.
    """
    open_segments: list[Segment] = []
    done: list[Segment] = []
    for frame in sorted(frames, key=lambda f: f.time):
        still_open = []
        for segment in open_segments:
            (still_open if frame.time - segment.query_end <= max_gap else done).append(segment)
        open_segments = still_open
        extended: set[int] = set()
        for match in frame.matches:
            ref_time = match.item.frame_time
            offset = None if ref_time is None else ref_time - frame.time
            target = _find_open(open_segments, match, offset, offset_tolerance)
            end = frame.time if frame.until is None else max(frame.time, frame.until)
            if target is None:
                segment = Segment(frame.time, end, ref_time, ref_time, 1, match, best_at=frame.time)
                if offset is not None:
                    segment._offsets.append(offset)
                segment._frame_evidence[frame.time] = max(0.0, match.evidence)
                open_segments.append(segment)
                extended.add(id(segment))
                continue
            if id(target) in extended:  # this frame already counted for it (another variant)
                _absorb(target, match, ref_time, offset, count=False, at=frame.time)
                continue
            extended.add(id(target))
            target.query_end = max(target.query_end, end)
            _absorb(target, match, ref_time, offset, count=True, at=frame.time)
    done.extend(open_segments)
    for segment in done:
        _settle_reference_range(segment)
        segment.evidence = round(sum(segment._frame_evidence.values()), 3)
        if duration:
            span = segment.query_end - segment.query_start
            segment.coverage = round(min(1.0, span / duration), 3)
    done.sort(
        key=lambda s: (
            not s.aligned,
            -s.evidence,
            -s.frames,
            s.query_start,
            s.key,
            s.reference_start or 0.0,
        )
    )
    return _without_shadows(done)


def _without_shadows(segments: list[Segment]) -> list[Segment]:
    """Drop a segment when a stronger segment of the same reference (ranked before it, with more
    matching frames, or as many and more evidence) already covers its whole query stretch: the
    same moments of the clip also matching another place in the video on shared background (a
    scrolling shooter's floor, a strategy map's tiles), not a second reuse. Segments of other
    references, beside it or as strong (a loop shown twice) stay. ``segments`` are strongest
    first."""
    kept: list[Segment] = []
    for segment in segments:
        shadowed = any(
            stronger.key == segment.key
            and stronger.frames >= segment.frames
            and (stronger.frames > segment.frames or stronger.evidence > segment.evidence)
            and stronger.query_start <= segment.query_start
            and segment.query_end <= stronger.query_end
            for stronger in kept
        )
        if not shadowed:
            kept.append(segment)
    return kept


def _find_open(
    segments: list[Segment], match: Match, offset: float | None, tolerance: float
) -> Segment | None:
    """The open segment of the same reference whose offset this match continues, nearest first."""
    key = reference_key(match)
    best: Segment | None = None
    best_gap = float("inf")
    for segment in segments:
        if segment.key != key:
            continue
        if offset is None or not segment._offsets:
            if offset is None and not segment._offsets:
                return segment
            continue
        gap = abs(offset - _median(segment._offsets))
        if gap <= tolerance and gap < best_gap:
            best, best_gap = segment, gap
    return best


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _settle_reference_range(segment: Segment) -> None:
    """The reference range is the query range shifted by the segment's median offset.

    A reference frame stands for the whole static stretch after it (duplicates are not stored),
    so the time of the frame a query frame matched is only a lower bound; the median of many
    offsets is what the run of frames agrees on.
    """
    if not segment._offsets:
        return
    offset = _median(segment._offsets)
    segment.reference_start = round(max(0.0, segment.query_start + offset), 3)
    segment.reference_end = round(max(0.0, segment.query_end + offset), 3)


def _absorb(
    segment: Segment,
    match: Match,
    ref_time: float | None,
    offset: float | None,
    *,
    count: bool,
    at: float,
) -> None:
    if count:
        segment.frames += 1
    if offset is not None:
        segment._offsets.append(offset)
    # A frame counts once, with the best of its matches to this reference.
    segment._frame_evidence[at] = max(segment._frame_evidence.get(at, 0.0), match.evidence)
    if (match.evidence, match.confidence) > (segment.best.evidence, segment.best.confidence):
        segment.best = match
        segment.best_at = at
