"""The scan service: inputs -> fingerprints (in parallel) -> matches -> ordered results."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from functools import partial
from pathlib import Path

from provcheck.errors import InputError
from provcheck.fingerprint import QueryFingerprint, query_fingerprint
from provcheck.matcher import Match, Matcher
from provcheck.media import LoadedImage, decode_image, load_image
from provcheck.targets import Target
from provcheck.thumbnail import Thumbnail, make_thumbnail

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


@dataclass(frozen=True, slots=True)
class ScanOptions:
    max_distances: dict[str, int] = field(default_factory=dict)
    limit: int = 5
    jobs: int = 1
    claimed_date: date | None = None
    #: Carry a preview of each matched input (the HTML report shows it); off for other formats.
    thumbnails: bool = False


@dataclass(frozen=True, slots=True)
class _Hashed:
    """What a worker sends back: the facts of the file and its fingerprint, or the error."""

    input: str
    loaded: LoadedImage | None = None
    query: QueryFingerprint | None = None
    error: str | None = None
    thumbnail: Thumbnail | None = None


def _hash_target(
    target: Target, stdin_data: bytes | None = None, thumbnails: bool = False
) -> _Hashed:
    try:
        if target.problem:
            raise InputError(target.value, target.problem)
        if target.kind == "stdin":
            loaded = decode_image(stdin_data or b"", "<stdin>")
        elif target.kind == "url":
            from provcheck.fetch import fetch_image

            fetched = fetch_image(target.value)
            loaded = decode_image(fetched.data, target.value)
        else:
            loaded = load_image(Path(target.value))
        query = query_fingerprint(loaded.image)
    except InputError as exc:
        return _Hashed(target.value, error=str(exc))
    except MemoryError:
        return _Hashed(target.value, error=f"{target.value}: out of memory while decoding")
    # The worker drops the pixels: only facts, hashes and (when asked) a few-KB preview cross the
    # process boundary. Whether the input matches is decided later, so _judge drops the preview
    # of everything that did not.
    thumb = make_thumbnail(loaded.image) if thumbnails and query.fingerprint.sufficient else None
    slim = LoadedImage(loaded.name, loaded.sha256, loaded.width, loaded.height, image=None)  # type: ignore[arg-type]
    return _Hashed(target.value, slim, query, thumbnail=thumb)


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _hashed_stream(
    targets: Sequence[Target], jobs: int, thumbnails: bool = False
) -> Iterator[_Hashed]:
    stdin_data = sys.stdin.buffer.read() if any(t.kind == "stdin" for t in targets) else None
    work = partial(_hash_target, thumbnails=thumbnails)
    if jobs <= 1 or len(targets) < 4:
        for target in targets:
            yield work(target, stdin_data)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        chunk = max(1, min(16, len(targets) // (jobs * 4)))
        yield from pool.map(work, targets, [stdin_data] * len(targets), chunksize=chunk)


def scan_targets(
    targets: Sequence[Target],
    matcher: Matcher,
    options: ScanOptions,
    on_result: Callable[[ScanResult], None] | None = None,
) -> list[ScanResult]:
    """Scan every target; results come back in the order of ``targets`` whatever ``jobs`` is."""
    results = []
    for hashed in _hashed_stream(targets, options.jobs, options.thumbnails):
        result = _judge(hashed, matcher, options)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def _judge(hashed: _Hashed, matcher: Matcher, options: ScanOptions) -> ScanResult:
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
    matches = matcher.match(query, limit=options.limit, sha256=loaded.sha256)
    if not matches:
        return ScanResult(hashed.input, CLEAN, matches, **facts)  # type: ignore[arg-type]
    result = ScanResult(hashed.input, MATCH, matches, **facts)  # type: ignore[arg-type]
    return replace(result, thumbnail=hashed.thumbnail) if hashed.thumbnail else result


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
