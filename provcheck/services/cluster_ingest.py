"""``db add --cluster``: decode and hash files and videos on the workers of a Dask cluster, and
write the results here, through one writer.

The work is the local ``db add``'s, cut where it is naturally independent: one task per still
(``ingest._hash_path``); per video, one task that reads its sha256 and plans its segments (so a
video the source already holds is not decoded again: a rerun after an interruption resumes), then
one task per segment (``video_ingest.hash_segment``: a long video is split at keyframes, as
``--jobs`` splits it, into two segments per worker thread). Results are small (hashes, keypoints,
a preview: never pixels) and come back to this process, which writes them with the local add's
own code (``StillWriter``; ``finish_video``: one transaction per video), stills as listed, then
videos as listed, so the store ends up with the items of a local add, ids included, whichever
worker finished first.

At most ``IN_FLIGHT_PER_THREAD`` stills and ``SEGMENTS_AHEAD_PER_THREAD`` video segments per worker
thread run ahead of the writer, so an archive of a million files never holds a million results in
memory; the writer always waits for the oldest task, which is always running or done.

Workers read the files themselves, at the paths given here: on a cluster of several machines,
the files must be at the same paths on every worker (a shared mount). Dask moves tasks and
results between the processes of one cluster with pickle: the scheduler must only be reachable
by trusted machines. Nothing pickled is ever stored: the store holds what a local add stores.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provcheck.errors import InputError
from provcheck.media.frames import VideoLimits, VideoSegment
from provcheck.media.reading import display_name
from provcheck.media.sampling import SamplingPolicy
from provcheck.media.split import WHOLE, plan_segments
from provcheck.media.video import file_sha256
from provcheck.services.ingest import AddReport, StillWriter, _hash_path, _Hashed, begin_source
from provcheck.services.video_ingest import (
    SEGMENTS_PER_JOB,
    HashedSegment,
    VideoAddReport,
    finish_video,
    hash_segment,
)
from provcheck.signals.keypoints import REFERENCE_FEATURES
from provcheck.store import SourceInfo, Store

#: Still tasks submitted ahead of the writer, per worker thread.
IN_FLIGHT_PER_THREAD = 4
#: Video segments submitted ahead of the writer, per worker thread. Two kept a worker idle at the
#: end of every video (waiting for its sister's last segment while the next video could not
#: start): on the devset, 9.4 s of hashing became 7.3 s with four. A segment's result is its
#: frames' hashes, keypoints and previews (about 20 KB a frame), never pixels.
SEGMENTS_AHEAD_PER_THREAD = 4
#: Seconds between looks at the videos' plans while waiting for a result.
WAIT_STEP_S = 0.1


def _prepare(path: Path, max_bytes: int, parts: int) -> tuple[str, list[VideoSegment], str | None]:
    """On a worker: the video's sha256 and its segments, or the error that stops it."""
    try:
        sha256 = file_sha256(path, max_bytes)
    except InputError as exc:
        return "", [], str(exc)
    return sha256, plan_segments(path, parts) if parts > 1 else [WHOLE], None


@dataclass
class _Video:
    """A video on its way: present already, failed, or its segments' tasks."""

    report: VideoAddReport
    sha256: str = ""
    tasks: list[Any] = field(default_factory=list)


@dataclass
class ClusterAdd:
    """One ``db add --cluster`` run: what to hash, how, and where to report each file."""

    client: Any
    store: Store
    thumbnails: bool = True
    keypoints: int = REFERENCE_FEATURES
    policy: SamplingPolicy | None = None
    limits: VideoLimits = field(default_factory=VideoLimits)
    on_item: Callable[[Path, str | None], None] | None = None
    on_video: Callable[[VideoAddReport], None] | None = None

    def run(self, info: SourceInfo, stills: Sequence[Path], videos: Sequence[Path]) -> AddReport:
        """Add ``stills`` then ``videos`` (absolute paths) to the source ``info`` describes."""
        report = begin_source(self.store, info)
        self._info, self._report = info, report
        threads = sum(self.client.nthreads().values())
        self._videos = list(videos)
        parts = threads * SEGMENTS_PER_JOB if threads > 1 else 1
        self._plans = [
            self.client.submit(_prepare, v, self.limits.max_bytes, parts, pure=False, priority=20)
            for v in self._videos
        ]
        self._started: list[_Video] = []
        self._consumed = 0
        self._window = max(2, SEGMENTS_AHEAD_PER_THREAD * threads)
        writer = StillWriter(self.store, info, report)
        for path, hashed in self._still_results(stills, IN_FLIGHT_PER_THREAD * threads):
            error = writer.take(hashed)
            if error is not None:
                report.errors.append(error)
            if self.on_item is not None:
                self.on_item(path, error)
        writer.flush()
        for index in range(len(self._videos)):
            done = self._video_result(index)
            done.add_to(report)
            if self.on_video is not None:
                self.on_video(done)
        return report

    def _still_results(self, stills: Sequence[Path], window: int) -> Iterator[tuple[Path, _Hashed]]:
        """Each still's result in the order given, with a bounded number of tasks ahead."""
        queue: deque[tuple[Path, Any]] = deque()
        todo = iter(stills)
        while True:
            while len(queue) < max(2, window) and (path := next(todo, None)) is not None:
                task = self.client.submit(
                    _hash_path, path, self.thumbnails, self.keypoints, pure=False
                )
                queue.append((path, task))
            if not queue:
                return
            path, task = queue.popleft()
            self._wait(task)
            failed = _failure(task, path)
            yield path, _Hashed(path, None, None, failed) if failed else task.result()

    def _in_flight(self) -> int:
        return sum(len(v.tasks) for v in self._started[self._consumed :])

    def _feed(self, *, block: bool) -> None:
        """Start the next videos' segments, in order, while fewer than ``_window`` segments run
        ahead of the writer; ``block`` waits for the plan of the video the writer needs next."""
        while len(self._started) < len(self._videos) and self._in_flight() < self._window:
            index = len(self._started)
            plan = self._plans[index]
            if not plan.done() and not (block and index == self._consumed):
                return
            path = self._videos[index]
            video = _Video(VideoAddReport(path))
            failed = _failure(plan, path)
            sha256, segments, error = ("", [], failed) if failed else plan.result()
            video.sha256, video.report.error = sha256, error
            known = self._report.source_id
            present = self.store.count_items(known, sha256) if error is None and known else 0
            if error is None and not present:
                video.report.segments = len(segments)
                video.tasks = [self._submit_segment(path, s, sha256) for s in segments]
            elif error is None:
                video.report.frames_present = present  # as a local add: not decoded again
            self._started.append(video)

    def _submit_segment(self, path: Path, segment: VideoSegment, sha256: str) -> Any:
        return self.client.submit(
            hash_segment,
            path,
            segment,
            policy=self.policy,
            limits=self.limits,
            keypoints=self.keypoints,
            thumbnails=self.thumbnails,
            sha256=sha256,
            pure=False,
            priority=10,
        )

    def _wait(self, task: Any) -> None:
        """Wait for ``task``, starting videos whose plans come in meanwhile."""
        from dask.distributed import wait

        while True:
            self._feed(block=False)
            if task.done():
                return
            with contextlib.suppress(TimeoutError):
                wait([task], timeout=WAIT_STEP_S)

    def _video_result(self, index: int) -> VideoAddReport:
        while len(self._started) <= index:
            self._feed(block=True)
        video = self._started[index]
        parts: list[HashedSegment] = []
        for task in video.tasks:
            self._wait(task)
            failed = _failure(task, video.report.path)
            if failed is not None:
                video.report.error = failed
                break
            parts.append(task.result())
        self._consumed = index + 1
        if video.tasks and video.report.error is None:
            finish_video(
                self.store,
                self._report.source_id or self._info,
                display_name,
                video.report,
                video.sha256,
                parts,
                self.limits,
            )
        video.tasks = []  # written: let the results go
        return video.report


def _failure(task: Any, path: Path) -> str | None:
    """None when the task succeeded; else the error line naming ``path`` (a worker that died
    mid-task three times, a bug): the batch goes on with the other files."""
    try:
        task.result()
    except Exception as exc:  # whatever a worker raised: reported per file, the batch goes on
        return f"{path}: failed on the cluster ({exc!r})"
    return None
