"""The scan service: inputs -> fingerprints (in parallel) -> verdicts, in the order given."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from provcheck.errors import InputError
from provcheck.matching.matcher import Matcher
from provcheck.matching.verdict import Fingerprinted, FingerprintedVideo, ScanResult, judge
from provcheck.media.fetch import FETCH_TIMEOUT_S
from provcheck.media.images import MAX_IMAGE_BYTES, LoadedImage, decode_image
from provcheck.media.reading import MAX_STDIN_BYTES, display_name, read_file_bytes, read_stream
from provcheck.media.targets import Target
from provcheck.media.webpage import DEFAULT_MAX_IMAGES
from provcheck.services.workers import worker_pool
from provcheck.signals.c2pa import TrustList, read_credentials, read_file_credentials
from provcheck.signals.fingerprint import QueryFingerprint, query_fingerprint
from provcheck.signals.metadata import FileMetadata, read_metadata
from provcheck.signals.thumbnail import make_thumbnail

#: How standard input is named in results and messages.
STDIN_NAME = "<stdin>"


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
    #: Seconds one URL may take in all (each image of a page gets as long again).
    fetch_timeout: float = FETCH_TIMEOUT_S
    #: PEM anchors C2PA signers are checked against (``--c2pa-trust``); None: none is trusted.
    c2pa_trust: TrustList | None = None


def _video_metadata(source: Path | bytes, trust: TrustList | None) -> FileMetadata:
    """A clip's own metadata: its C2PA credentials (a video has no EXIF to read)."""
    if isinstance(source, Path):
        return FileMetadata(None, read_file_credentials(source, trust=trust))
    return FileMetadata(None, read_credentials(source, trust=trust))


def _hash_video(source: Path | bytes, name: str, keypoints: bool = True) -> FingerprintedVideo:
    from provcheck.media.sampling import QUERY_POLICY
    from provcheck.media.video import sample_video

    facts, frames = sample_video(source, name, policy=QUERY_POLICY)
    hashed = [(frame.time, query_fingerprint(frame.image, keypoints)) for frame in frames]
    return FingerprintedVideo(facts.sha256, facts.width, facts.height, facts.duration, hashed)


def _hash_target(
    target: Target,
    stdin_data: bytes | None = None,
    allow_private: bool = False,
    max_page_images: int = DEFAULT_MAX_IMAGES,
    thumbnails: bool = False,
    keypoints: bool = True,
    fetch_timeout: float = FETCH_TIMEOUT_S,
    c2pa_trust: TrustList | None = None,
) -> Fingerprinted:
    """Fingerprint one target, in a worker process or not; never raises ``InputError``. The
    result's names are printable whatever the file name's bytes (``reading.display_name``)."""
    hashed = _fingerprint(
        target,
        stdin_data,
        (allow_private, max_page_images, keypoints, fetch_timeout, thumbnails, c2pa_trust),
    )
    return replace(
        hashed,
        input=display_name(hashed.input),
        error=None if hashed.error is None else display_name(hashed.error),
        page=None if hashed.page is None else display_name(hashed.page),
    )


def _fingerprint(
    target: Target, stdin_data: bytes | None, settings: tuple[Any, ...]
) -> Fingerprinted:
    """``_hash_target``'s work; ``settings`` are ``_fetch_url``'s after the target."""
    from provcheck.media.sniff import is_video_bytes, is_video_path

    _private, _pages, keypoints, _timeout, thumbnails, c2pa_trust = settings
    try:
        if target.problem:
            raise InputError(STDIN_NAME if target.kind == "stdin" else target.value, target.problem)
        if target.kind == "stdin":
            data = stdin_data or b""
            if data and is_video_bytes(data):
                video = _hash_video(data, STDIN_NAME, keypoints)
                return Fingerprinted(
                    target.value, video=video, metadata=_video_metadata(data, c2pa_trust)
                )
            loaded = decode_image(data, STDIN_NAME)
        elif target.kind == "url":
            return _fetch_url(target, *settings)
        elif is_video_path(Path(target.value)):
            path = Path(target.value)
            video = _hash_video(path, display_name(path), keypoints)
            return Fingerprinted(
                target.value, video=video, metadata=_video_metadata(path, c2pa_trust)
            )
        else:
            path = Path(target.value)
            data = read_file_bytes(path, MAX_IMAGE_BYTES)
            loaded = decode_image(data, display_name(path))
        query = query_fingerprint(loaded.image, keypoints)
    except InputError as exc:
        return Fingerprinted(target.value, error=str(exc), page=target.page)
    except MemoryError:
        return Fingerprinted(
            target.value, error=f"{target.value}: out of memory while decoding", page=target.page
        )
    return _hashed_image(target.value, data, loaded, query, target.page, thumbnails, c2pa_trust)


def _hashed_image(
    name: str,
    data: bytes,
    loaded: LoadedImage,
    query: QueryFingerprint,
    page: str | None = None,
    thumbnails: bool = False,
    c2pa_trust: TrustList | None = None,
) -> Fingerprinted:
    """The worker's answer for a decoded image: facts, hashes, the file's own metadata (read
    here, from the bytes already in memory) and, when asked, a few-KB preview. The pixels stay
    behind. Whether the input matches is decided later, so judge drops the preview of
    everything that did not."""
    metadata = read_metadata(data, loaded.exif, loaded.image, loaded.format, c2pa_trust)
    thumb = make_thumbnail(loaded.image) if thumbnails and not query.fingerprint.flat else None
    slim = LoadedImage(loaded.name, loaded.sha256, loaded.width, loaded.height, image=None)  # type: ignore[arg-type]
    return Fingerprinted(name, slim, query, thumbnail=thumb, page=page, metadata=metadata)


def hash_bytes(data: bytes, name: str, c2pa_trust: TrustList | None = None) -> Fingerprinted:
    """Decode and fingerprint an upload (``provcheck serve``): an image, or a clip or animated
    picture sampled as a video, as the CLI reads a file; never raises InputError."""
    return fingerprint_download(data, name, c2pa_trust=c2pa_trust)


def _fetch_url(
    target: Target,
    allow_private: bool,
    max_page_images: int,
    keypoints: bool = True,
    fetch_timeout: float = FETCH_TIMEOUT_S,
    thumbnails: bool = False,
    c2pa_trust: TrustList | None = None,
) -> Fingerprinted:
    """A URL fingerprinted: an image, a video clip or animated GIF/WebP sampled as a video, or a
    page whose image URLs are to be scanned in its place. An image found on a page is fetched as
    an image only: pages are followed one level deep."""
    from provcheck.media.fetch import fetch_image, fetch_image_or_page

    if target.page is not None:
        fetched = fetch_image(target.value, allow_private=allow_private, deadline_s=fetch_timeout)
    else:
        fetched = fetch_image_or_page(
            target.value, allow_private=allow_private, deadline_s=fetch_timeout
        )
    if not fetched.is_page:
        return fingerprint_download(
            fetched.data,
            target.value,
            page=target.page,
            video=fetched.is_video,
            keypoints=keypoints,
            thumbnails=thumbnails,
            c2pa_trust=c2pa_trust,
        )
    from provcheck.media.webpage import decode_page, page_images

    images = page_images(decode_page(fetched.data), fetched.url, max_page_images)
    if not images:
        raise InputError(target.value, "web page declares no images (og:image, img) to scan")
    return Fingerprinted(target.value, page=target.value, page_images=tuple(images))


def fingerprint_download(
    data: bytes,
    name: str,
    *,
    page: str | None = None,
    video: bool = False,
    keypoints: bool = True,
    thumbnails: bool = False,
    c2pa_trust: TrustList | None = None,
) -> Fingerprinted:
    """Fingerprint bytes from outside a file (a download, an upload): a still, or a clip
    (``video``: the server said so) or an animated picture sampled as a video. Never raises
    ``InputError``: ``provcheck serve`` runs it in a worker process, fetching in its own
    threads."""
    from provcheck.media.sniff import is_video_bytes

    name = display_name(name)
    try:
        if video or (data and is_video_bytes(data)):
            clip = _hash_video(data, name, keypoints)
            metadata = _video_metadata(data, c2pa_trust)
            return Fingerprinted(name, video=clip, page=page, metadata=metadata)
        loaded = decode_image(data, name)
        query = query_fingerprint(loaded.image, keypoints)
    except InputError as exc:
        return Fingerprinted(name, error=display_name(str(exc)), page=page)
    except MemoryError:
        return Fingerprinted(name, error=f"{name}: out of memory while decoding", page=page)
    return _hashed_image(name, data, loaded, query, page, thumbnails, c2pa_trust)


def _hashed_stream(targets: Sequence[Target], options: ScanOptions) -> Iterator[Fingerprinted]:
    """Fingerprints in the order of ``targets``; a web page is replaced, in its place, by the
    fingerprints of the images it declares."""
    stdin_data, targets = _read_stdin(targets)
    fetch_args = (
        options.allow_private,
        options.page_images,
        options.thumbnails,
        options.keypoints,
        options.fetch_timeout,
        options.c2pa_trust,
    )
    if options.jobs <= 1 or len(targets) < 4:
        for target in targets:
            hashed = _hash_target(target, stdin_data, *fetch_args)
            if hashed.page_images is None:
                yield hashed
                continue
            for image in _page_targets(hashed):
                yield _hash_target(image, None, *fetch_args)
        return
    with worker_pool(options.jobs) as pool:
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


def _read_stdin(targets: Sequence[Target]) -> tuple[bytes | None, Sequence[Target]]:
    """Standard input's bytes when a target asks for them, read up to ``MAX_STDIN_BYTES``; over
    the cap, the stdin targets are marked with the problem instead."""
    if not any(t.kind == "stdin" for t in targets):
        return None, targets
    try:
        return read_stream(sys.stdin.buffer, MAX_STDIN_BYTES, STDIN_NAME), targets
    except InputError as exc:
        marked = [replace(t, problem=exc.problem) if t.kind == "stdin" else t for t in targets]
        return None, marked


def _page_targets(hashed: Fingerprinted) -> list[Target]:
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
        result = judge(hashed, matcher, options.limit)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
