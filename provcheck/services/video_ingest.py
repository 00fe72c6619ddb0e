"""The ``db add`` service for videos: sample and hash videos on every core, store each in one
transaction.

A video is split into segments that decode on their own (``media.split``): each worker process
samples and fingerprints one segment (decoding, the sampler's probe, the working copies, PDQ,
pHash, keypoints and previews: all the work), and the parent writes a video's frames once all its
segments are in. One long video and a folder of short ones use the machine alike. The same three
steps serve a cluster (``plan_segments``, ``hash_segment`` on the workers, ``store_video``):
``hash_segment`` takes and returns plain, picklable values.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from provcheck.errors import InputError
from provcheck.media.frames import (
    Progress,
    VideoFacts,
    VideoLimits,
    VideoSegment,
    check_complete,
    check_running,
)
from provcheck.media.reading import display_name
from provcheck.media.sampling import SamplingPolicy
from provcheck.media.split import WHOLE, iter_segments, sample_segment
from provcheck.media.video import file_sha256, sample_video
from provcheck.services.ingest import AddReport, stored_hashes
from provcheck.services.workers import read_ahead, worker_pool
from provcheck.signals.fingerprint import Fingerprint, fingerprint
from provcheck.signals.keypoints import REFERENCE_FEATURES
from provcheck.signals.thumbnail import Thumbnail, make_thumbnail
from provcheck.store import SourceInfo, Store

#: Segments planned per worker for one video: more than one, so that a worker whose segment
#: decodes fast takes another instead of idling while the slowest finishes.
SEGMENTS_PER_JOB = 2


@dataclass(slots=True)
class VideoAddReport:
    """What adding one video did: frames stored, or why nothing was."""

    path: Path
    source_id: int = 0  # the source the frames went to (0 while nothing was stored)
    frames_added: int = 0
    frames_present: int = 0
    duration: float = 0.0
    frames_decoded: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    segments: int = 1  # segments sampled (in parallel when more than one)

    def add_to(self, report: AddReport) -> None:
        """Count this video into the report of a whole ``db add``: its frames, its error, and
        the source if these frames created it (a source is created with its first items)."""
        if self.source_id and not report.source_id:
            report.source_id, report.source_created = self.source_id, True
        report.added += self.frames_added
        report.already_present += self.frames_present
        if self.error:
            report.errors.append(self.error)


@dataclass(frozen=True, slots=True)
class HashedFrame:
    """One kept frame as a worker sends it back: no pixels, only what is stored."""

    time: float
    fingerprint: Fingerprint
    thumbnail: Thumbnail | None = None


@dataclass(slots=True)
class HashedSegment:
    """What sampling one segment gave: the facts gathered, the hashed frames, or the error."""

    segment: VideoSegment
    facts: VideoFacts
    frames: list[HashedFrame] = field(default_factory=list)
    error: str | None = None


def hash_segment(
    path: Path,
    segment: VideoSegment,
    *,
    policy: SamplingPolicy | None = None,
    limits: VideoLimits | None = None,
    keypoints: int = REFERENCE_FEATURES,
    thumbnails: bool = False,
    sha256: str = "",
    on_progress: Progress | None = None,
    overlap: bool = False,
) -> HashedSegment:
    """Sample and fingerprint one segment of the video at ``path`` (a worker's whole job). The
    whole video (``segment`` = ``WHOLE``) is read as ``sample_video`` reads it, animations too.
    ``overlap`` decodes on a second thread while the frames before are fingerprinted
    (``workers.read_ahead``): for a machine with a core to spare. Never raises ``InputError``:
    the error comes back in the result."""
    facts = VideoFacts(str(path), sha256)
    hashed = HashedSegment(segment, facts)
    try:
        if segment == WHOLE:
            facts, frames = sample_video(
                path,
                policy=policy,
                limits=limits,
                on_progress=on_progress,
                previews=thumbnails,
                sha256=sha256 or None,
            )
        else:
            facts, frames = sample_segment(
                path, segment, policy=policy, limits=limits, previews=thumbnails
            )
        hashed.facts = facts
        for frame in read_ahead(frames) if overlap else frames:
            fp = fingerprint(frame.image, keypoints)
            if not fp.flat:  # low-detail frames are stored, as low-detail stills are
                thumb = make_thumbnail(frame.preview or frame.image) if thumbnails else None
                hashed.frames.append(HashedFrame(frame.time, fp, thumb))
    except InputError as exc:
        hashed.error = str(exc)
    except MemoryError:
        hashed.error = f"{path}: out of memory while decoding"
    return hashed


def merge_segments(
    path: Path, sha256: str, parts: Sequence[HashedSegment], limits: VideoLimits | None = None
) -> tuple[VideoFacts, list[HashedFrame]]:
    """One video's facts and frames from its segments (in any order). Raises ``InputError``
    with the first segment's error, or when the whole passes a limit no segment passed alone."""
    ordered = sorted(parts, key=lambda part: part.segment.start)
    for part in ordered:
        if part.error is not None:
            raise InputError(str(path), part.error.removeprefix(f"{path}: "))
    first = ordered[0].facts
    facts = VideoFacts(str(path), sha256, first.width, first.height, first.codec)
    frames: list[HashedFrame] = []
    for part in ordered:
        facts.duration = max(facts.duration, part.facts.duration)
        facts.declared = max(facts.declared, part.facts.declared)
        facts.decoded_pixels += part.facts.decoded_pixels
        facts.frames_decoded += part.facts.frames_decoded
        facts.frames_kept += part.facts.frames_kept
        facts.warnings.extend(w for w in part.facts.warnings if w not in facts.warnings)
        frames.extend(part.frames)
    limits = limits or VideoLimits()
    check_running(facts, limits, facts.duration)
    if facts.decoded_pixels > limits.max_decoded_pixels:
        raise InputError(str(path), "more pixels to decode than the limit (frames x frame size)")
    if len(ordered) > 1:  # a whole video read in one part was checked as it was read
        check_complete(facts)
    return facts, frames


def store_video(
    store: Store,
    source: int | SourceInfo,
    origin: str,
    facts: VideoFacts,
    frames: Iterable[HashedFrame],
) -> tuple[int, int, int]:
    """Write one video's frames as items of ``source`` in one transaction: (source id, added,
    present). ``source`` is an id, or the provenance of a source that is created, if new, in the
    same transaction: a source never exists without items."""
    added = present = 0
    with store.transaction():
        source_id = source if isinstance(source, int) else store.ensure_source(source)[0]
        for frame in frames:
            fp = frame.fingerprint
            item_id, new = store.add_item(
                source_id,
                origin=origin,
                item_key=facts.sha256,
                sha256=facts.sha256,
                width=facts.width,
                height=facts.height,
                frame_time=frame.time,
                hashes=stored_hashes(fp),
            )
            if new and fp.features is not None and len(fp.features):
                store.put_features(item_id, fp.features)
            if frame.thumbnail is not None:
                store.put_thumbnail(item_id, frame.thumbnail)
            added += new
            present += not new
    return source_id, added, present


@dataclass(frozen=True, slots=True)
class _Task:
    video: int  # index into the videos being added
    segment: VideoSegment
    sha256: str


def add_videos(
    store: Store,
    source: int | SourceInfo,
    paths: Sequence[Path],
    *,
    origin_of: Callable[[Path], str] | None = None,
    policy: SamplingPolicy | None = None,
    limits: VideoLimits | None = None,
    keypoints: int = REFERENCE_FEATURES,
    thumbnails: bool = False,
    jobs: int = 1,
    on_video: Callable[[VideoAddReport], None] | None = None,
    on_progress: Callable[[Path, float, float], None] | None = None,
) -> list[VideoAddReport]:
    """Add videos as items of ``source`` (an id, or provenance: the source is created with the
    first frames stored), sampled on ``jobs`` processes; a report per video, in the order given
    (``on_video`` hears each as soon as it is stored).

    One transaction per video: an interrupted or failed video leaves nothing behind and running
    again resumes (a video already stored in this source, same sha256, is not decoded again).
    ``on_progress(path, done, total)`` follows decoding: in seconds of video when one process
    samples the whole video, in segments when several share it.
    """
    origin_of = origin_of or (lambda p: display_name(p.resolve()))
    limits = limits or VideoLimits()
    reports = [VideoAddReport(path) for path in paths]
    known = _source_id(store, source)

    def plan() -> Iterator[_Task]:
        """Each video's segments, handed out as they are planned (``media.split.iter_segments``)
        so the first is sampled while the rest are planned; a video with nothing to decode is
        reported at once."""
        for n, path in enumerate(paths):
            try:
                sha256 = file_sha256(path, limits.max_bytes)
            except InputError as exc:
                reports[n].error = str(exc)
            else:
                reports[n].frames_present = store.count_items(known, sha256) if known else 0
            if reports[n].error is not None or reports[n].frames_present:
                if on_video is not None:  # nothing to decode: done already
                    on_video(reports[n])
                continue
            segments = iter_segments(path, jobs * SEGMENTS_PER_JOB) if jobs > 1 else [WHOLE]
            for count, segment in enumerate(segments, start=1):
                reports[n].segments = count
                yield _Task(n, segment, sha256)

    work = partial(
        _run_task, paths=paths, policy=policy, limits=limits, keypoints=keypoints,
        thumbnails=thumbnails,
    )  # fmt: skip
    pending: dict[int, list[HashedSegment]] = {}
    for task, hashed in _map(work, plan(), jobs, paths, on_progress):
        report = reports[task.video]
        pending.setdefault(task.video, []).append(hashed)
        done = len(pending[task.video])
        if on_progress is not None and report.segments > 1:  # in segments, not seconds
            on_progress(report.path, done, report.segments)
        if done < report.segments:
            continue
        finish_video(store, source, origin_of, report, task.sha256, pending.pop(task.video), limits)
        if on_video is not None:
            on_video(report)
    return reports


def _source_id(store: Store, source: int | SourceInfo) -> int | None:
    """The id of ``source`` if it is stored already (an id is taken as it is)."""
    if isinstance(source, int):
        return source
    found = store.find_source(source.label)
    return None if found is None else found.id


def finish_video(
    store: Store,
    source: int | SourceInfo,
    origin_of: Callable[[Path], str],
    report: VideoAddReport,
    sha256: str,
    parts: list[HashedSegment],
    limits: VideoLimits,
) -> None:
    """Merge a video's segments and store them in one transaction, filling ``report`` in (also
    the last step of ``db add --cluster``)."""
    path = report.path
    try:
        facts, frames = merge_segments(path, sha256, parts, limits)
    except InputError as exc:
        report.error = str(exc)
        return
    report.duration, report.frames_decoded = facts.duration, facts.frames_decoded
    report.warnings = list(facts.warnings)
    if not frames:
        report.error = (
            f"{path}: no frame with enough detail to hash meaningfully"
            f" ({facts.frames_decoded} frames decoded); not added"
        )
        return
    report.source_id, report.frames_added, report.frames_present = store_video(
        store, source, origin_of(path), facts, frames
    )


def _run_task(
    task: _Task,
    *,
    paths: Sequence[Path],
    policy: SamplingPolicy | None,
    limits: VideoLimits,
    keypoints: int,
    thumbnails: bool,
    on_progress: Progress | None = None,
    overlap: bool = False,
) -> tuple[_Task, HashedSegment]:
    """``task`` done: itself with its result (a pool's results need no bookkeeping of their own)."""
    return task, hash_segment(
        paths[task.video],
        task.segment,
        policy=policy,
        limits=limits,
        keypoints=keypoints,
        thumbnails=thumbnails,
        sha256=task.sha256,
        on_progress=on_progress,
        overlap=overlap,
    )


def _map(
    work: Callable[..., tuple[_Task, HashedSegment]],
    tasks: Iterator[_Task],
    jobs: int,
    paths: Sequence[Path],
    on_progress: Callable[[Path, float, float], None] | None,
) -> Iterator[tuple[_Task, HashedSegment]]:
    """Run ``work`` on every task, with results in task order: in this process when there is one
    job or one task (with frame-by-frame progress), else on a pool of ``jobs`` processes, each
    task sent as soon as it is planned.

    One task with jobs to spare (a clip too short to split) decodes on a second thread while it
    fingerprints: 1.37x faster on two cores. The pool's workers do not: with every core busy the
    second thread only adds work (120 s of 720p, 2 jobs: 6 % more CPU time and 8 % slower)."""
    first = next(tasks, None)
    if first is None:
        return
    # A split video has at least two segments; a whole one may be the only task.
    second = next(tasks, None) if first.segment == WHOLE else None
    taken = [first] if second is None else [first, second]
    every = itertools.chain(taken, tasks)
    if jobs <= 1 or (first.segment == WHOLE and second is None):
        for task in every:
            progress = None
            if on_progress is not None:
                progress = partial(on_progress, paths[task.video])
            yield work(task, on_progress=progress, overlap=jobs > 1)
        return
    with worker_pool(jobs) as pool:
        # ``map`` takes every task (planning them all) before its first result comes back, so
        # each video's segment count is final by the time its segments are counted in.
        yield from pool.map(work, every, chunksize=1)


def add_video(
    store: Store,
    source: int | SourceInfo,
    path: Path,
    *,
    origin: str,
    policy: SamplingPolicy | None = None,
    limits: VideoLimits | None = None,
    on_progress: Progress | None = None,
    keypoints: int = REFERENCE_FEATURES,
    thumbnails: bool = False,
    jobs: int = 1,
) -> VideoAddReport:
    """Sample one video and store its kept frames as items of ``source`` (origin + frame_time):
    ``add_videos`` for one path. ``keypoints`` per kept frame (for partial matches)
    trades recall on crops for database size; ``thumbnails`` keeps a few-KB preview of each kept
    frame for the HTML report."""
    progress = None if on_progress is None else (lambda _p, done, total: on_progress(done, total))
    return add_videos(
        store,
        source,
        [path],
        origin_of=lambda _p: origin,
        policy=policy,
        limits=limits,
        keypoints=keypoints,
        thumbnails=thumbnails,
        jobs=jobs,
        on_progress=progress,
    )[0]
