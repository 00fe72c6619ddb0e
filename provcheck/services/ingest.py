"""The ``db add`` service: hash files and store them as items of one source.

Stills are written in batches (videos: ``services.video_ingest``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from provcheck.errors import InputError
from provcheck.media.images import LoadedImage, load_image
from provcheck.media.reading import display_name
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
    #: Pictures stored with low detail (PDQ quality under 50: soft, hazy, a gradient), one note
    #: each: they match only on strong evidence (``matching.calibration.is_same_picture``).
    low_detail: list[str] = field(default_factory=list)


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
    # A low-detail reference needs its preview most: its hashes decide only with its pixels.
    thumb = make_thumbnail(loaded.image) if thumbnails and not fp.flat else None
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


class StillWriter:
    """Writes hashed stills as items of one source, ``BATCH`` per transaction, counting into a
    report: the one write path of ``add_files`` and of ``db add --cluster``.

    The source is written with its first items, never alone: an add that is interrupted, or
    finds nothing to store, leaves no empty source behind.
    """

    def __init__(
        self,
        store: Store,
        info: SourceInfo,
        report: AddReport,
        origin_of: Callable[[Path], str] | None = None,
    ) -> None:
        self.store = store
        self.info = info
        self.report = report
        self.origin_of = origin_of or (lambda p: display_name(p.resolve()))
        self.pending: list[tuple[Path, LoadedImage, Fingerprint, Thumbnail | None]] = []

    def take(self, hashed: _Hashed) -> str | None:
        """Queue one result for writing; returns the error that kept it out, if any."""
        loaded, fp = hashed.loaded, hashed.fingerprint
        if loaded is None or fp is None:
            return hashed.error or f"{hashed.path}: could not be hashed"
        if fp.flat:
            return (
                f"{hashed.path}: nothing to match: one colour, a blank or black frame, or noise"
                f" (PDQ quality {fp.quality}); not added"
            )
        if not fp.sufficient:
            self.report.low_detail.append(
                f"{hashed.path}: low detail (PDQ quality {fp.quality}): stored; it matches"
                " on agreeing keypoints, or on close hashes with agreeing pixels"
            )
        self.pending.append((hashed.path, loaded, fp, hashed.thumbnail))
        if len(self.pending) >= BATCH:
            self.flush()
        return None

    def flush(self) -> None:
        if not self.pending:
            return
        store, report = self.store, self.report
        with store.transaction():
            source_id, created = store.ensure_source(self.info)
            report.source_id, report.source_created = source_id, report.source_created or created
            for path, loaded, fp, thumb in self.pending:
                item_id, added = store.add_item(
                    report.source_id,
                    origin=self.origin_of(path),
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
        self.pending.clear()


def begin_source(store: Store, info: SourceInfo) -> AddReport:
    """A report for adding to the source ``info`` describes: its id if it is stored already
    (contradicting provenance is refused now, before anything is hashed); a new source gets its
    id with its first items."""
    report = AddReport()
    existing = store.find_source(info.label)
    if existing is not None:
        provenance_updates(existing.info, info)
        report.source_id = existing.id
    return report


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
    report = begin_source(store, info)
    writer = StillWriter(store, info, report, origin_of)
    for hashed in _hashed(paths, jobs, thumbnails, keypoints):
        error = writer.take(hashed)
        if error is not None:
            report.errors.append(error)
        if on_item is not None:
            on_item(hashed.path, error)
    writer.flush()
    return report
