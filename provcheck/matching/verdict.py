"""The verdict on one input: its status (match, clean, insufficient, error) and the matches, or
for a clip the segments, that back it. Pure: the input arrives fingerprinted (by the scan service's
workers), and the matcher holds the references."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from provcheck.matching.match import Match
from provcheck.matching.matcher import Matcher
from provcheck.matching.placement import PLACEMENT_CANDIDATES, place_in_time
from provcheck.matching.segments import FrameMatches, Segment, find_segments
from provcheck.matching.timeline import with_stretches
from provcheck.media.images import LoadedImage
from provcheck.signals.fingerprint import QueryFingerprint
from provcheck.signals.metadata import FileMetadata
from provcheck.signals.thumbnail import Thumbnail

MATCH, CLEAN, ERROR, INSUFFICIENT = "match", "clean", "error", "insufficient"
STATUSES = (MATCH, CLEAN, INSUFFICIENT, ERROR)


@dataclass(frozen=True, slots=True)
class ScanResult:
    input: str
    status: str
    matches: list[Match] = field(default_factory=list)
    error: str | None = None
    sha256: str | None = None
    width: int | None = None
    height: int | None = None
    quality: int | None = None
    #: A small preview of the input, kept only for matches and only when the report shows pictures.
    thumbnail: Thumbnail | None = None
    page: str | None = None  # the web page ``input`` was found on, when a page was scanned
    kind: str = "image"  # "image" or "video" (a clip or an animated GIF/WebP)
    segments: list[Segment] = field(default_factory=list)
    duration: float | None = None  # videos: seconds decoded
    frames_sampled: int | None = None  # videos: frames kept by sampling and matched
    #: What the file says about itself (EXIF, C2PA); None when it could not be read at all.
    metadata: FileMetadata | None = None
    #: Videos: a small preview of the clip's frame at each of the first segments' keyframe times
    #: (``Segment.best_at``), for the evidence report; none when scanned without keypoints.
    keyframes: dict[float, Thumbnail] = field(default_factory=dict)


#: Matches kept per sampled frame of a clip: enough that neighbouring frames of one reference
#: video cannot crowd out a second reference.
FRAME_CANDIDATES = 20


@dataclass(frozen=True, slots=True)
class Fingerprinted:
    """One input as a hashing worker sends it back: the facts of the file and its fingerprint (a
    clip: of each sampled frame), or the error. No pixels: only a preview when one was asked for."""

    input: str
    loaded: LoadedImage | None = None
    query: QueryFingerprint | None = None
    error: str | None = None
    thumbnail: Thumbnail | None = None
    page: str | None = None
    #: Set when the URL was a web page: the image URLs it declares, to scan in its place.
    page_images: tuple[str, ...] | None = None
    video: FingerprintedVideo | None = None
    metadata: FileMetadata | None = None


@dataclass(frozen=True, slots=True)
class FingerprintedVideo:
    """A video query: facts of the file and the fingerprint of each sampled frame."""

    sha256: str
    width: int
    height: int
    duration: float
    frames: list[tuple[float, QueryFingerprint]]


def judge(hashed: Fingerprinted, matcher: Matcher, limit: int = 5) -> ScanResult:
    """Decide one fingerprinted input: its status, and its best ``limit`` matches (a clip: its
    segments, and the best frame match of each matched reference)."""
    if hashed.video is not None:
        result = _judge_video(hashed.input, hashed.video, matcher, limit)
        return replace(result, metadata=hashed.metadata)
    if hashed.error is not None or hashed.loaded is None or hashed.query is None:
        return ScanResult(hashed.input, ERROR, error=hashed.error, page=hashed.page)
    loaded, query = hashed.loaded, hashed.query
    facts = {
        "sha256": loaded.sha256,
        "width": loaded.width,
        "height": loaded.height,
        "quality": query.fingerprint.quality,
        "page": hashed.page,
        "metadata": hashed.metadata,
    }
    if query.fingerprint.flat:
        return ScanResult(hashed.input, INSUFFICIENT, **facts)  # type: ignore[arg-type]
    # More matches than reported: the frames of a matched video the still is placed among.
    wide = matcher.match(query, limit=max(limit, PLACEMENT_CANDIDATES), sha256=loaded.sha256)
    placed, also = place_in_time(wide, query, matcher.sets)
    matches = with_stretches(placed[:limit], matcher.sets, also)
    if not matches:
        # A low-detail input that matched nothing was never clear: the evidence that would
        # have found it is what it lacks. ``insufficient`` is the last resort, not a gate.
        status = CLEAN if query.fingerprint.sufficient else INSUFFICIENT
        return ScanResult(hashed.input, status, matches, **facts)  # type: ignore[arg-type]
    result = ScanResult(hashed.input, MATCH, matches, **facts)  # type: ignore[arg-type]
    return replace(result, thumbnail=hashed.thumbnail) if hashed.thumbnail else result


def _judge_video(name: str, video: FingerprintedVideo, matcher: Matcher, limit: int) -> ScanResult:
    """Match every sampled frame, group the hits into segments; the verdict is the clip's."""
    qualities = [q.fingerprint.quality for _, q in video.frames]
    facts = {
        "sha256": video.sha256,
        "width": video.width,
        "height": video.height,
        "quality": max(qualities, default=0),
        "kind": "video",
        "duration": round(video.duration, 3),
        "frames_sampled": len(video.frames),
    }
    if all(q.fingerprint.flat for _, q in video.frames):
        return ScanResult(name, INSUFFICIENT, **facts)  # type: ignore[arg-type]
    times = [time for time, _ in video.frames]
    ends = [*times[1:], max(video.duration, times[-1])]
    per_frame = [
        FrameMatches(time, matcher.match(query, limit=max(limit, FRAME_CANDIDATES)), until)
        for (time, query), until in zip(video.frames, ends, strict=True)
    ]
    segments = find_segments(per_frame, duration=video.duration)
    status = MATCH if segments else CLEAN
    matches = _best_per_reference(segments)[:limit]
    keyframes = _keyframes(video, segments[:KEYFRAMES])
    return ScanResult(name, status, matches, segments=segments, keyframes=keyframes, **facts)  # type: ignore[arg-type]


#: Segments whose keyframe the evidence report shows side by side with the reference frame.
KEYFRAMES = 10


def _keyframes(video: FingerprintedVideo, segments: Sequence[Segment]) -> dict[float, Thumbnail]:
    """Previews of the clip's frames at the segments' keyframe times, from the pixels each frame's
    fingerprint already carries (a few KB each; a few milliseconds per clip)."""
    from PIL import Image

    from provcheck.signals.thumbnail import make_thumbnail

    wanted = {segment.best_at for segment in segments}
    out: dict[float, Thumbnail] = {}
    for time, query in video.frames:
        if time in wanted and query.preview is not None:
            out[time] = make_thumbnail(Image.fromarray(query.preview))
    return out


def _best_per_reference(segments: Sequence[Segment]) -> list[Match]:
    """``matches`` of a video result, for readers that know nothing of segments: the best frame
    match of each matched reference, in the order of the segments (the strongest segment's
    reference frame first)."""
    ordered = [s.best for s in segments]
    seen: set[tuple[str, int, str]] = set()
    unique = []
    for match in ordered:
        key = (match.database, match.item.source_id, match.item.item_key)
        if key not in seen:
            seen.add(key)
            unique.append(match)
    return unique
