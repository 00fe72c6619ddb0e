"""The scan service: inputs -> fingerprints (in parallel) -> matches -> ordered results."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from provcheck.errors import InputError
from provcheck.fingerprint import QueryFingerprint, query_fingerprint
from provcheck.matcher import Match, Matcher
from provcheck.media import LoadedImage, decode_image, load_image
from provcheck.segments import FrameMatches, Segment, find_segments
from provcheck.targets import Target
from provcheck.thumbnail import Thumbnail, make_thumbnail
from provcheck.timeline import with_stretches
from provcheck.webpage import DEFAULT_MAX_IMAGES

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


#: Matches kept per sampled frame of a clip: enough that neighbouring frames of one reference
#: video cannot crowd out a second reference.
FRAME_CANDIDATES = 20


@dataclass(frozen=True, slots=True)
class ScanOptions:
    max_distances: dict[str, int] = field(default_factory=dict)
    limit: int = 5
    jobs: int = 1
    claimed_date: date | None = None
    #: Carry a preview of each matched input (the HTML report shows it); off for other formats.
    thumbnails: bool = False
    allow_private: bool = False  # fetch from loopback/private/link-local addresses
    page_images: int = DEFAULT_MAX_IMAGES  # images scanned per web page
    #: Compute keypoints for partial matches (crops, screenshots); off: hashes only, ~5x faster.
    keypoints: bool = True


@dataclass(frozen=True, slots=True)
class _Hashed:
    """What a worker sends back: the facts of the file and its fingerprint, or the error."""

    input: str
    loaded: LoadedImage | None = None
    query: QueryFingerprint | None = None
    error: str | None = None
    thumbnail: Thumbnail | None = None
    page: str | None = None
    #: Set when the URL was a web page: the image URLs it declares, to scan in its place.
    page_images: tuple[str, ...] | None = None
    video: _HashedVideo | None = None


@dataclass(frozen=True, slots=True)
class _HashedVideo:
    """A video query: facts of the file and the fingerprint of each sampled frame."""

    sha256: str
    width: int
    height: int
    duration: float
    frames: list[tuple[float, QueryFingerprint]]


def _hash_video(source: Path | bytes, name: str, keypoints: bool = True) -> _HashedVideo:
    from provcheck.sampling import QUERY_POLICY
    from provcheck.video import sample_video

    facts, frames = sample_video(source, name, policy=QUERY_POLICY)
    hashed = [(frame.time, query_fingerprint(frame.image, keypoints)) for frame in frames]
    return _HashedVideo(facts.sha256, facts.width, facts.height, facts.duration, hashed)


def _hash_target(
    target: Target,
    stdin_data: bytes | None = None,
    allow_private: bool = False,
    max_page_images: int = DEFAULT_MAX_IMAGES,
    thumbnails: bool = False,
    keypoints: bool = True,
) -> _Hashed:
    from provcheck.video import is_video_bytes, is_video_path

    try:
        if target.problem:
            raise InputError(target.value, target.problem)
        if target.kind == "stdin":
            data = stdin_data or b""
            if data and is_video_bytes(data):
                return _Hashed(target.value, video=_hash_video(data, "<stdin>", keypoints))
            loaded = decode_image(data, "<stdin>")
        elif target.kind == "url":
            fetched = _fetch_url(target, allow_private, max_page_images, keypoints)
            if not isinstance(fetched, bytes):
                return fetched  # a page, or a clip or animated picture sampled as a video
            loaded = decode_image(fetched, target.value)
        elif is_video_path(Path(target.value)):
            video = _hash_video(Path(target.value), target.value, keypoints)
            return _Hashed(target.value, video=video)
        else:
            loaded = load_image(Path(target.value))
        query = query_fingerprint(loaded.image, keypoints)
    except InputError as exc:
        return _Hashed(target.value, error=str(exc), page=target.page)
    except MemoryError:
        return _Hashed(
            target.value, error=f"{target.value}: out of memory while decoding", page=target.page
        )
    return _hashed_image(target.value, loaded, query, target.page, thumbnails)


def _hashed_image(
    name: str,
    loaded: LoadedImage,
    query: QueryFingerprint,
    page: str | None = None,
    thumbnails: bool = False,
) -> _Hashed:
    """The worker's answer for a decoded image. It drops the pixels: only facts, hashes and (when
    asked) a few-KB preview cross the process boundary. Whether the input matches is decided
    later, so _judge drops the preview of everything that did not."""
    thumb = make_thumbnail(loaded.image) if thumbnails and query.fingerprint.sufficient else None
    slim = LoadedImage(loaded.name, loaded.sha256, loaded.width, loaded.height, image=None)  # type: ignore[arg-type]
    return _Hashed(name, slim, query, thumbnail=thumb, page=page)


def hash_bytes(data: bytes, name: str) -> _Hashed:
    """Decode and fingerprint an uploaded image (``provcheck serve``); never raises InputError."""
    try:
        loaded = decode_image(data, name)
        return _hashed_image(name, loaded, query_fingerprint(loaded.image))
    except InputError as exc:
        return _Hashed(name, error=str(exc))
    except MemoryError:
        return _Hashed(name, error=f"{name}: out of memory while decoding")


def _fetch_url(
    target: Target, allow_private: bool, max_page_images: int, keypoints: bool = True
) -> bytes | _Hashed:
    """A still image URL's bytes; or, done here, a page URL's image URLs to scan in its place,
    or a video clip or animated GIF/WebP sampled as a video. An image found on a page is fetched
    as an image only: pages are followed one level deep."""
    from provcheck.fetch import fetch_image, fetch_image_or_page
    from provcheck.video import is_video_bytes

    if target.page is not None:
        fetched = fetch_image(target.value, allow_private=allow_private)
    else:
        fetched = fetch_image_or_page(target.value, allow_private=allow_private)
    if not fetched.is_page:
        if fetched.is_video or is_video_bytes(fetched.data):
            video = _hash_video(fetched.data, target.value, keypoints)
            return _Hashed(target.value, video=video, page=target.page)
        return fetched.data
    from provcheck.webpage import decode_page, page_images

    images = page_images(decode_page(fetched.data), fetched.url, max_page_images)
    if not images:
        raise InputError(target.value, "web page declares no images (og:image, img) to scan")
    return _Hashed(target.value, page=target.value, page_images=tuple(images))


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _hashed_stream(targets: Sequence[Target], options: ScanOptions) -> Iterator[_Hashed]:
    """Fingerprints in the order of ``targets``; a web page is replaced, in its place, by the
    fingerprints of the images it declares."""
    stdin_data = sys.stdin.buffer.read() if any(t.kind == "stdin" for t in targets) else None
    fetch_args = (options.allow_private, options.page_images, options.thumbnails, options.keypoints)
    if options.jobs <= 1 or len(targets) < 4:
        for target in targets:
            hashed = _hash_target(target, stdin_data, *fetch_args)
            if hashed.page_images is None:
                yield hashed
                continue
            for image in _page_targets(hashed):
                yield _hash_target(image, None, *fetch_args)
        return
    with ProcessPoolExecutor(max_workers=options.jobs) as pool:
        n = len(targets)
        chunk = max(1, min(16, n // (options.jobs * 4)))
        extra = [[arg] * n for arg in fetch_args]
        for hashed in pool.map(_hash_target, targets, [stdin_data] * n, *extra, chunksize=chunk):
            if hashed.page_images is None:
                yield hashed
                continue
            images = _page_targets(hashed)
            m = len(images)
            yield from pool.map(_hash_target, images, [None] * m, *[[a] * m for a in fetch_args])


def _page_targets(hashed: _Hashed) -> list[Target]:
    return [Target("url", url, page=hashed.page) for url in hashed.page_images or ()]


def scan_targets(
    targets: Sequence[Target],
    matcher: Matcher,
    options: ScanOptions,
    on_result: Callable[[ScanResult], None] | None = None,
) -> list[ScanResult]:
    """Scan every target; results come back in the order of ``targets`` whatever ``jobs`` is."""
    results = []
    for hashed in _hashed_stream(targets, options):
        result = _judge(hashed, matcher, options)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def judge(hashed: _Hashed, matcher: Matcher, options: ScanOptions) -> ScanResult:
    """Decide one fingerprinted input (public for ``provcheck serve``, which hashes on its own)."""
    return _judge(hashed, matcher, options)


def _judge(hashed: _Hashed, matcher: Matcher, options: ScanOptions) -> ScanResult:
    if hashed.video is not None:
        return _judge_video(hashed.input, hashed.video, matcher, options)
    if hashed.error is not None or hashed.loaded is None or hashed.query is None:
        return ScanResult(hashed.input, ERROR, error=hashed.error, page=hashed.page)
    loaded, query = hashed.loaded, hashed.query
    facts = {
        "sha256": loaded.sha256,
        "width": loaded.width,
        "height": loaded.height,
        "quality": query.fingerprint.quality,
        "page": hashed.page,
    }
    if not query.fingerprint.sufficient:
        return ScanResult(hashed.input, INSUFFICIENT, **facts)  # type: ignore[arg-type]
    matches = matcher.match(query, limit=options.limit, sha256=loaded.sha256)
    matches = with_stretches(matches, matcher.sets)
    if not matches:
        return ScanResult(hashed.input, CLEAN, matches, **facts)  # type: ignore[arg-type]
    result = ScanResult(hashed.input, MATCH, matches, **facts)  # type: ignore[arg-type]
    return replace(result, thumbnail=hashed.thumbnail) if hashed.thumbnail else result


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
