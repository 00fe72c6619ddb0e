"""The scan service: inputs -> fingerprints (in parallel) -> matches -> ordered results."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from provcheck.errors import InputError
from provcheck.fingerprint import QueryFingerprint, query_fingerprint
from provcheck.matcher import Match, Matcher
from provcheck.media import LoadedImage, decode_image, load_image
from provcheck.segments import FrameMatches, Segment, find_segments
from provcheck.targets import Target

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
    kind: str = "image"  # "image" or "video" (a clip or an animated GIF/WebP)
    segments: list[Segment] = field(default_factory=list)
    duration: float | None = None  # videos: seconds decoded
    frames_sampled: int | None = None  # videos: frames kept by sampling and matched


#: Matches kept per sampled frame of a clip: enough that neighbouring frames of one reference
#: video cannot crowd out a second reference.
FRAME_CANDIDATES = 20


@dataclass(frozen=True, slots=True)
class ScanOptions:
    max_distances: dict[str, int] = field(default_factory=dict)
    limit: int = 5
    jobs: int = 1
    claimed_date: date | None = None


@dataclass(frozen=True, slots=True)
class _Hashed:
    """What a worker sends back: the facts of the file and its fingerprint, or the error."""

    input: str
    loaded: LoadedImage | None = None
    query: QueryFingerprint | None = None
    error: str | None = None
    video: _HashedVideo | None = None


@dataclass(frozen=True, slots=True)
class _HashedVideo:
    """A video query: facts of the file and the fingerprint of each sampled frame."""

    sha256: str
    width: int
    height: int
    duration: float
    frames: list[tuple[float, QueryFingerprint]]


def _hash_video(source: Path | bytes, name: str) -> _HashedVideo:
    from provcheck.sampling import QUERY_POLICY
    from provcheck.video import sample_video

    facts, frames = sample_video(source, name, policy=QUERY_POLICY)
    hashed = [(frame.time, query_fingerprint(frame.image)) for frame in frames]
    return _HashedVideo(facts.sha256, facts.width, facts.height, facts.duration, hashed)


def _hash_target(target: Target, stdin_data: bytes | None = None) -> _Hashed:
    from provcheck.video import is_video_bytes, is_video_path

    try:
        if target.problem:
            raise InputError(target.value, target.problem)
        if target.kind == "stdin":
            data = stdin_data or b""
            if data and is_video_bytes(data):
                return _Hashed(target.value, video=_hash_video(data, "<stdin>"))
            loaded = decode_image(data, "<stdin>")
        elif target.kind == "url":
            from provcheck.fetch import fetch_image

            fetched = fetch_image(target.value)
            if is_video_bytes(fetched.data):
                return _Hashed(target.value, video=_hash_video(fetched.data, target.value))
            loaded = decode_image(fetched.data, target.value)
        elif is_video_path(Path(target.value)):
            return _Hashed(target.value, video=_hash_video(Path(target.value), target.value))
        else:
            loaded = load_image(Path(target.value))
        query = query_fingerprint(loaded.image)
    except InputError as exc:
        return _Hashed(target.value, error=str(exc))
    except MemoryError:
        return _Hashed(target.value, error=f"{target.value}: out of memory while decoding")
    # The worker drops the pixels: only facts and hashes cross the process boundary.
    slim = LoadedImage(loaded.name, loaded.sha256, loaded.width, loaded.height, image=None)  # type: ignore[arg-type]
    return _Hashed(target.value, slim, query)


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _hashed_stream(targets: Sequence[Target], jobs: int) -> Iterator[_Hashed]:
    stdin_data = sys.stdin.buffer.read() if any(t.kind == "stdin" for t in targets) else None
    if jobs <= 1 or len(targets) < 4:
        for target in targets:
            yield _hash_target(target, stdin_data)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        chunk = max(1, min(16, len(targets) // (jobs * 4)))
        yield from pool.map(_hash_target, targets, [stdin_data] * len(targets), chunksize=chunk)


def scan_targets(
    targets: Sequence[Target],
    matcher: Matcher,
    options: ScanOptions,
    on_result: Callable[[ScanResult], None] | None = None,
) -> list[ScanResult]:
    """Scan every target; results come back in the order of ``targets`` whatever ``jobs`` is."""
    results = []
    for hashed in _hashed_stream(targets, options.jobs):
        result = _judge(hashed, matcher, options)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def _judge(hashed: _Hashed, matcher: Matcher, options: ScanOptions) -> ScanResult:
    if hashed.video is not None:
        return _judge_video(hashed.input, hashed.video, matcher, options)
    if hashed.error is not None or hashed.loaded is None or hashed.query is None:
        return ScanResult(hashed.input, ERROR, error=hashed.error)
    loaded, query = hashed.loaded, hashed.query
    facts = {
        "sha256": loaded.sha256,
        "width": loaded.width,
        "height": loaded.height,
        "quality": query.fingerprint.quality,
    }
    if not query.fingerprint.sufficient:
        return ScanResult(hashed.input, INSUFFICIENT, **facts)  # type: ignore[arg-type]
    matches = matcher.match(query, limit=options.limit)
    status = MATCH if matches else CLEAN
    return ScanResult(hashed.input, status, matches, **facts)  # type: ignore[arg-type]


def _judge_video(
    name: str, video: _HashedVideo, matcher: Matcher, options: ScanOptions
) -> ScanResult:
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
    if not any(q.fingerprint.sufficient for _, q in video.frames):
        return ScanResult(name, INSUFFICIENT, **facts)  # type: ignore[arg-type]
    times = [time for time, _ in video.frames]
    ends = [*times[1:], max(video.duration, times[-1])]
    per_frame = [
        FrameMatches(time, matcher.match(query, limit=max(options.limit, FRAME_CANDIDATES)), until)
        for (time, query), until in zip(video.frames, ends, strict=True)
    ]
    segments = find_segments(per_frame)
    status = MATCH if segments else CLEAN
    matches = _best_per_reference(segments)[: options.limit]
    return ScanResult(name, status, matches, segments=segments, **facts)  # type: ignore[arg-type]


def _best_per_reference(segments: Sequence[Segment]) -> list[Match]:
    """``matches`` of a video result, for readers that know nothing of segments: the best frame
    match of each matched reference, strongest first."""
    ordered = sorted(
        (s.best for s in segments),
        key=lambda m: (-m.confidence, sum(m.distances.values()), m.database, m.item.id),
    )
    seen: set[tuple[str, int, str]] = set()
    unique = []
    for match in ordered:
        key = (match.database, match.item.source_id, match.item.item_key)
        if key not in seen:
            seen.add(key)
            unique.append(match)
    return unique


FAIL_ON = ("any", "match", "error", "never")


def exit_code(counts: dict[str, int], fail_on: str = "any") -> int:
    """The documented exit status: 2 when an input could not be read, else 1 when something
    matched, else 0 -- restricted to what ``fail_on`` says should fail the run."""
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {FAIL_ON}")
    if counts.get(ERROR, 0) and fail_on in ("any", "error"):
        return 2
    if counts.get(MATCH, 0) and fail_on in ("any", "match"):
        return 1
    return 0
