"""``db add --cluster``: decode and hash files and videos on the workers of a Dask cluster, and
write the results here, through one writer (``provcheck[cluster]``).

The work is the local ``db add``'s, cut where it is naturally independent: one task per still
(``ingest._hash_path``), and per video one task for its sha256 (so that a video the source
already holds is not decoded again: a rerun after an interruption resumes) and one that samples
and hashes it (``ingest.hash_video``). Results are small (hashes, keypoints, a preview: never
pixels) and come back to this process, which writes them with the same code as a local add
(``StillWriter``, ``store_video``), in the same order (stills as listed, then videos as listed),
so the store ends up with the same items, ids included, whichever worker finished first.

Videos are started first, largest first, so that the longest tasks do not finish last; stills fill
the gaps, at most ``IN_FLIGHT_PER_THREAD`` per worker thread ahead of the writer, so an archive of
a million files never holds a million results in memory.

Workers read the files themselves, at the paths given here: on a cluster of several machines,
the files must be at the same paths on every worker (a shared mount). Dask moves tasks and
results between the processes of one cluster with pickle: the scheduler must only be reachable
by trusted machines. Nothing pickled is ever stored: the store holds what a local add stores.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provcheck import __version__
from provcheck.errors import InputError, UsageError
from provcheck.media.frames import VideoLimits
from provcheck.media.sampling import SamplingPolicy
from provcheck.services.ingest import (
    AddReport,
    HashedVideo,
    StillWriter,
    VideoAddReport,
    _hash_path,
    _Hashed,
    hash_video,
    start_source,
    store_video,
)
from provcheck.signals.keypoints import REFERENCE_FEATURES
from provcheck.store import SourceInfo, Store

#: ``--cluster local``: a LocalCluster of ``--jobs`` worker processes on this machine.
LOCAL = "local"
#: Still tasks submitted ahead of the writer, per worker thread.
IN_FLIGHT_PER_THREAD = 4
#: Seconds to wait for a scheduler, and for its first worker.
CONNECT_TIMEOUT_S = 30


def _worker_version() -> str:
    return __version__


def _video_key(path: Path, max_bytes: int) -> tuple[str | None, str | None]:
    """(sha256, None) of a video file, or (None, error): the key ``db add`` stores it under."""
    try:
        if path.stat().st_size > max_bytes:
            return None, f"{path}: video is over the size limit"
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        return None, str(InputError(str(path), f"cannot read it on the worker ({exc.strerror})"))
    return digest.hexdigest(), None


def _hash_video_task(
    path: Path, policy: SamplingPolicy, keypoints: int, thumbnails: bool
) -> HashedVideo:
    return hash_video(path, policy=policy, keypoints=keypoints, thumbnails=thumbnails)


@contextmanager
def cluster_client(address: str, local_workers: int) -> Iterator[Any]:
    """A connected ``dask.distributed.Client`` (starting a LocalCluster for ``local``), its
    workers checked to run this provcheck version; closed (and the LocalCluster stopped) after."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise UsageError("--cluster needs Dask: pip install 'provcheck[cluster]'") from None
    cluster = None
    try:
        if address == LOCAL:
            cluster = LocalCluster(
                n_workers=local_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address="127.0.0.1:0",  # no fixed port: no clash, no warning
            )
            client = Client(cluster)
        else:
            client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise UsageError(f"{address}: cannot reach the Dask scheduler ({exc})") from None
    try:
        _check_workers(client, address)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _check_workers(client: Any, address: str) -> None:
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
    except TimeoutError:
        raise UsageError(f"{address}: no Dask worker joined the scheduler") from None
    for worker, version in sorted(client.run(_worker_version).items()):
        if version != __version__:
            raise UsageError(
                f"Dask worker {worker} runs provcheck {version}, this is {__version__}:"
                " install the same version on every worker"
            )


@dataclass
class ClusterAdd:
    """One ``db add --cluster`` run: what to hash, how, and where to report each file."""

    client: Any
    store: Store
    thumbnails: bool = True
    keypoints: int = REFERENCE_FEATURES
    policy: SamplingPolicy | None = None
    limits: VideoLimits | None = None
    on_item: Callable[[Path, str | None], None] | None = None
    on_video: Callable[[VideoAddReport], None] | None = None

    def run(self, info: SourceInfo, stills: Sequence[Path], videos: Sequence[Path]) -> AddReport:
        """Add ``stills`` then ``videos`` (absolute paths) to the source ``info`` describes."""
        report = start_source(self.store, info)
        self._source = report.source_id
        self._keys = {
            v: self.client.submit(
                _video_key, v, (self.limits or VideoLimits()).max_bytes, pure=False, priority=20
            )
            for v in sorted(videos, key=_size, reverse=True)
        }
        self._hashing: dict[Path, Any] = {}
        self._present: dict[Path, int] = {}
        writer = StillWriter(self.store, report)
        for path, hashed in self._still_results(stills):
            error = writer.take(hashed)
            if error is not None:
                report.errors.append(error)
            if self.on_item is not None:
                self.on_item(path, error)
        writer.flush()
        for video in videos:
            done = self._video_result(video)
            report.added += done.frames_added
            report.already_present += done.frames_present
            if done.error:
                report.errors.append(done.error)
            if self.on_video is not None:
                self.on_video(done)
        return report

    def _still_results(self, stills: Sequence[Path]) -> Iterator[tuple[Path, _Hashed]]:
        """Each still's result in the order given, with a bounded number of tasks ahead."""
        window = max(2, IN_FLIGHT_PER_THREAD * sum(self.client.nthreads().values()))
        queue: deque[tuple[Path, Any]] = deque()
        todo = iter(stills)
        while True:
            while len(queue) < window and (path := next(todo, None)) is not None:
                task = self.client.submit(
                    _hash_path, path, self.thumbnails, self.keypoints, pure=False
                )
                queue.append((path, task))
            if not queue:
                return
            self._start_videos(wait=False)
            path, task = queue.popleft()
            yield path, _outcome(task, path) or task.result()

    def _start_videos(self, *, wait: bool, only: Path | None = None) -> None:
        """Submit the hashing of every video whose key is in and that the source does not hold
        yet (waiting for ``only``'s key when ``wait``)."""
        for video, key in self._keys.items():
            if video in self._hashing or video in self._present:
                continue
            if not key.done() and not (wait and video == only):
                continue
            sha256, error = key.result()
            if error is not None or sha256 is None:
                self._present[video] = 0
                self._hashing[video] = error or f"{video}: could not be read"
                continue
            present = self.store.count_items(self._source, sha256)
            if present:
                self._present[video] = present
                continue
            self._hashing[video] = self.client.submit(
                _hash_video_task,
                video,
                self.policy or SamplingPolicy(),
                self.keypoints,
                self.thumbnails,
                pure=False,
                priority=10,
            )

    def _video_result(self, video: Path) -> VideoAddReport:
        self._start_videos(wait=True, only=video)
        if self._present.get(video):
            return VideoAddReport(video, frames_present=self._present[video])
        task = self._hashing[video]
        if isinstance(task, str):
            return VideoAddReport(video, error=task)
        failed = _outcome(task, video)
        if failed is not None:
            return VideoAddReport(video, error=failed.error)
        return store_video(self.store, self._source, task.result(), str(video))


def _outcome(task: Any, path: Path) -> _Hashed | None:
    """None when the task succeeded; else a failed result naming ``path`` (a worker that died
    mid-task three times, a bug): the batch goes on with the other files."""
    try:
        task.result()
    except Exception as exc:  # whatever a worker raised: reported per file, the batch goes on
        return _Hashed(path, None, None, f"{path}: failed on the cluster ({exc!r})")
    return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
