"""The ``db add`` service: hash files and store them as items of one source.

Stills are written in batches; a video is sampled into frames and written in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from provcheck.errors import InputError
from provcheck.media.frames import Progress, VideoLimits
from provcheck.media.images import LoadedImage, load_image
from provcheck.media.reading import display_name
from provcheck.media.sampling import SamplingPolicy
from provcheck.media.video import sample_video
from provcheck.services.workers import worker_pool
from provcheck.signals.fingerprint import Fingerprint, fingerprint
from provcheck.signals.keypoints import REFERENCE_FEATURES
from provcheck.signals.thumbnail import Thumbnail, make_thumbnail
from provcheck.store import SourceInfo, Store, StoredHash, provenance_updates

#: Items written per transaction: big enough to be fast, small enough that an interrupted add of a
#: large folder keeps most of its work (and every committed batch is complete).
BATCH = 200


@dataclass(slots=True)
class AddReport:
    source_id: int = 0
    source_created: bool = False
    added: int = 0
    already_present: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Hashed:
    path: Path
    loaded: LoadedImage | None
    fingerprint: Fingerprint | None
    error: str | None
    thumbnail: Thumbnail | None = None


def _hash_path(
    path: Path, thumbnails: bool = False, keypoints: int = REFERENCE_FEATURES
) -> _Hashed:
    try:
        loaded = load_image(path)
        fp = fingerprint(loaded.image, keypoints)
    except InputError as exc:
        return _Hashed(path, None, None, str(exc))
    # Encoded in the worker: a few KB cross the process boundary, never the pixels.
    thumb = make_thumbnail(loaded.image) if thumbnails and fp.sufficient else None
    slim = LoadedImage(loaded.name, loaded.sha256, loaded.width, loaded.height, image=None)  # type: ignore[arg-type]
    return _Hashed(path, slim, fp, None, thumb)


def _hashed(
    paths: Sequence[Path], jobs: int, thumbnails: bool, keypoints: int
) -> Iterator[_Hashed]:
    work = partial(_hash_path, thumbnails=thumbnails, keypoints=keypoints)
    if jobs <= 1 or len(paths) < 4:
        yield from map(work, paths)
        return
    with worker_pool(jobs) as pool:
        yield from pool.map(work, paths, chunksize=max(1, min(16, len(paths) // (jobs * 4))))


def stored_hashes(fp: Fingerprint) -> list[StoredHash]:
    return [StoredHash(h, fp.quality if kind == "pdq" else None) for kind, h in fp.hashes.items()]


def add_files(
    store: Store,
    info: SourceInfo,
    paths: Sequence[Path],
    *,
    jobs: int = 1,
    on_item: Callable[[Path, str | None], None] | None = None,
    origin_of: Callable[[Path], str] | None = None,
    thumbnails: bool = True,
    keypoints: int = REFERENCE_FEATURES,
) -> AddReport:
    """Add ``paths`` (already expanded files) to the source described by ``info``.

    Unreadable files are reported and skipped; the rest are stored. Images too flat to hash
    meaningfully are refused as references too: they would only ever produce false matches.
    ``origin_of`` names each item's origin (default: its absolute path). ``thumbnails`` keeps a
    small preview of each item for the HTML report; an item already present gets one if it had
    none, so re-adding a folder after an upgrade fills previews in.
    """
    origin_of = origin_of or (lambda p: display_name(p.resolve()))
    report = AddReport()
    existing = store.find_source(info.label)
    if existing is not None:  # refuse contradicting provenance now, before hashing anything
        provenance_updates(existing.info, info)
        report.source_id = existing.id
    pending: list[tuple[Path, LoadedImage, Fingerprint, Thumbnail | None]] = []

    def flush() -> None:
        with store.transaction():
            # The source is written with its first items, never alone: an add that is
            # interrupted, or finds nothing to store, leaves no empty source behind.
            source_id, created = store.ensure_source(info)
            report.source_id, report.source_created = source_id, report.source_created or created
            for path, loaded, fp, thumb in pending:
                item_id, added = store.add_item(
                    report.source_id,
                    origin=origin_of(path),
                    item_key=loaded.sha256,
                    sha256=loaded.sha256,
                    width=loaded.width,
                    height=loaded.height,
                    hashes=stored_hashes(fp),
                )
                if thumb is not None:
                    store.put_thumbnail(item_id, thumb)
                if added and fp.features is not None and len(fp.features):
                    store.put_features(item_id, fp.features)
                if added:
                    report.added += 1
                else:
                    report.already_present += 1
        pending.clear()

    for hashed in _hashed(paths, jobs, thumbnails, keypoints):
        error, loaded, fp = hashed.error, hashed.loaded, hashed.fingerprint
        if loaded is None or fp is None:
            error = error or f"{hashed.path}: could not be hashed"
        elif not fp.sufficient:
            error = (
                f"{hashed.path}: too little detail to hash meaningfully"
                f" (PDQ quality {fp.quality}); not added"
            )
        else:
            pending.append((hashed.path, loaded, fp, hashed.thumbnail))
            if len(pending) >= BATCH:
                flush()
        if error is not None:
            report.errors.append(error)
        if on_item is not None:
            on_item(hashed.path, error)
    if pending:
        flush()
    return report


@dataclass(slots=True)
class VideoAddReport:
    """What adding one video did: frames stored, or why nothing was."""

    path: Path
    source_id: int = 0  # the source the frames went to (0 when nothing was stored)
    frames_added: int = 0
    frames_present: int = 0
    duration: float = 0.0
    frames_decoded: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


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
) -> VideoAddReport:
    """Sample one video and store its kept frames as items of ``source`` (origin + frame_time):
    a source id, or the provenance of a source created, if new, with the frames.

    One transaction per video: the frames are hashed first (hashes are small), then written
    together, so an interrupted or failed video leaves nothing behind and re-running resumes
    cleanly. A video already stored in this source (same sha256) is not decoded again.
    ``keypoints`` per kept frame (for partial matches) trades recall on crops for database size;
    ``thumbnails`` keeps a few-KB preview of each kept frame for the HTML report.
    """
    report = VideoAddReport(path)
    try:
        facts, frames = sample_video(
            path, policy=policy, limits=limits, on_progress=on_progress, previews=thumbnails
        )
        if isinstance(source, int):
            known: int | None = source
        else:
            found = store.find_source(source.label)
            known = None if found is None else found.id
        present = store.count_items(known, facts.sha256) if known is not None else 0
        if present:
            report.frames_present = present
            return report
        hashed: list[tuple[float, Fingerprint, Thumbnail | None]] = []
        for frame in frames:
            fp = fingerprint(frame.image, keypoints)
            if fp.sufficient:
                thumb = make_thumbnail(frame.preview or frame.image) if thumbnails else None
                hashed.append((frame.time, fp, thumb))
    except InputError as exc:
        report.error = str(exc)
        return report
    report.duration, report.frames_decoded = facts.duration, facts.frames_decoded
    report.warnings = list(facts.warnings)
    if not hashed:
        report.error = (
            f"{path}: no frame with enough detail to hash meaningfully"
            f" ({facts.frames_decoded} frames decoded); not added"
        )
        return report
    with store.transaction():
        # A source named by its provenance is written with the video's frames, never alone.
        source_id = source if isinstance(source, int) else store.ensure_source(source)[0]
        report.source_id = source_id
        for time_s, fp, thumb in hashed:
            item_id, added = store.add_item(
                source_id,
                origin=origin,
                item_key=facts.sha256,
                sha256=facts.sha256,
                width=facts.width,
                height=facts.height,
                frame_time=time_s,
                hashes=stored_hashes(fp),
            )
            if added and fp.features is not None and len(fp.features):
                store.put_features(item_id, fp.features)
            if thumb is not None:
                store.put_thumbnail(item_id, thumb)
            report.frames_added += added
            report.frames_present += not added
    return report
