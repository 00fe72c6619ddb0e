"""The scan service: inputs -> fingerprints (in parallel) -> verdicts, in the order given."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from provcheck.errors import InputError
from provcheck.matching.matcher import Matcher
from provcheck.matching.verdict import Fingerprinted, FingerprintedVideo, ScanResult, judge
from provcheck.media.images import LoadedImage, decode_image, read_file_bytes
from provcheck.media.targets import Target
from provcheck.media.webpage import DEFAULT_MAX_IMAGES
from provcheck.signals.c2pa import TrustList, read_credentials, read_file_credentials
from provcheck.signals.fingerprint import QueryFingerprint, query_fingerprint
from provcheck.signals.metadata import FileMetadata, read_metadata
from provcheck.signals.thumbnail import make_thumbnail


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
    c2pa_trust: TrustList | None = None,
) -> Fingerprinted:
    from provcheck.media.sniff import is_video_bytes, is_video_path

    try:
        if target.problem:
            raise InputError(target.value, target.problem)
        if target.kind == "stdin":
            data = stdin_data or b""
            if data and is_video_bytes(data):
                video = _hash_video(data, "<stdin>", keypoints)
                return Fingerprinted(
                    target.value, video=video, metadata=_video_metadata(data, c2pa_trust)
                )
            loaded = decode_image(data, "<stdin>")
        elif target.kind == "url":
            fetched = _fetch_url(target, allow_private, max_page_images, keypoints, c2pa_trust)
            if not isinstance(fetched, bytes):
                return fetched  # a page, or a clip or animated picture sampled as a video
            data = fetched
            loaded = decode_image(data, target.value)
        elif is_video_path(Path(target.value)):
            path = Path(target.value)
            video = _hash_video(path, target.value, keypoints)
            return Fingerprinted(
                target.value, video=video, metadata=_video_metadata(path, c2pa_trust)
            )
        else:
            data = read_file_bytes(Path(target.value))
            loaded = decode_image(data, target.value)
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
    from provcheck.media.sniff import is_video_bytes

    try:
        if data and is_video_bytes(data):
            return Fingerprinted(name, video=_hash_video(data, name))
        loaded = decode_image(data, name)
        query = query_fingerprint(loaded.image)
        return _hashed_image(name, data, loaded, query, c2pa_trust=c2pa_trust)
    except InputError as exc:
        return Fingerprinted(name, error=str(exc))
    except MemoryError:
        return Fingerprinted(name, error=f"{name}: out of memory while decoding")


def _fetch_url(
    target: Target,
    allow_private: bool,
    max_page_images: int,
    keypoints: bool = True,
    c2pa_trust: TrustList | None = None,
) -> bytes | Fingerprinted:
    """A still image URL's bytes; or, done here, a page URL's image URLs to scan in its place,
    or a video clip or animated GIF/WebP sampled as a video. An image found on a page is fetched
    as an image only: pages are followed one level deep."""
    from provcheck.media.fetch import fetch_image, fetch_image_or_page
    from provcheck.media.sniff import is_video_bytes

    if target.page is not None:
        fetched = fetch_image(target.value, allow_private=allow_private)
    else:
        fetched = fetch_image_or_page(target.value, allow_private=allow_private)
    if not fetched.is_page:
        if fetched.is_video or is_video_bytes(fetched.data):
            video = _hash_video(fetched.data, target.value, keypoints)
            metadata = _video_metadata(fetched.data, c2pa_trust)
            return Fingerprinted(target.value, video=video, page=target.page, metadata=metadata)
        return fetched.data
    from provcheck.media.webpage import decode_page, page_images

    images = page_images(decode_page(fetched.data), fetched.url, max_page_images)
    if not images:
        raise InputError(target.value, "web page declares no images (og:image, img) to scan")
    return Fingerprinted(target.value, page=target.value, page_images=tuple(images))


def _hashed_stream(targets: Sequence[Target], options: ScanOptions) -> Iterator[Fingerprinted]:
    """Fingerprints in the order of ``targets``; a web page is replaced, in its place, by the
    fingerprints of the images it declares."""
    stdin_data = sys.stdin.buffer.read() if any(t.kind == "stdin" for t in targets) else None
    fetch_args = (
        options.allow_private,
        options.page_images,
        options.thumbnails,
        options.keypoints,
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
