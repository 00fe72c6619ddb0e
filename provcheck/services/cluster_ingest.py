"""``db add --cluster``: decode and hash files and videos on the workers of a Dask cluster, and
write the results here, through one writer (``provcheck[cluster]``).

The work is the local ``db add``'s, cut where it is naturally independent: one task per still
(``ingest._hash_path``), and per video one task for its sha256 (so that a video the source
already holds is not decoded again: a rerun after an interruption resumes) and one that samples
and hashes it (``ingest.hash_video``). Results are small (hashes, keypoints, a preview: never
pixels) and come back to this process, which writes them with the same code as a local add
(``StillWriter``, ``store_video``), in the same order (stills as listed, then videos as listed),
so the store ends up with the same items, ids included, whichever worker finished first.

Videos start as soon as their keys are in, up to two per worker thread ahead of the writer;
stills fill the gaps, at most ``IN_FLIGHT_PER_THREAD`` per worker thread ahead: an archive of a
million files never holds a million results in memory, and the writer always waits for the oldest
task, which is always running or done.

Workers read the files themselves, at the paths given here: on a cluster of several machines,
the files must be at the same paths on every worker (a shared mount). Dask moves tasks and
results between the processes of one cluster with pickle: the scheduler must only be reachable
by trusted machines. Nothing pickled is ever stored: the store holds what a local add stores.
"""

from __future__ import annotations

import contextlib
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
#: Seconds between looks at the videos' keys while waiting for a result.
WAIT_STEP_S = 0.1


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
        threads = sum(self.client.nthreads().values())
        self._videos = list(videos)
        max_bytes = (self.limits or VideoLimits()).max_bytes
        # Keys first (a file read each): they decide which videos need decoding at all.
        self._keys = [
            self.client.submit(_video_key, v, max_bytes, pure=False, priority=20)
            for v in self._videos
        ]
        self._outcomes: list[Any] = []  # per video: a hashing task, an error, or frames present
        self._consumed = 0
        self._window = max(2, 2 * threads)
        writer = StillWriter(self.store, report)
        for path, hashed in self._still_results(stills, IN_FLIGHT_PER_THREAD * threads):
            error = writer.take(hashed)
            if error is not None:
                report.errors.append(error)
            if self.on_item is not None:
                self.on_item(path, error)
        writer.flush()
        for index, video in enumerate(self._videos):
            done = self._video_result(index, video)
            report.added += done.frames_added
            report.already_present += done.frames_present
            if done.error:
                report.errors.append(done.error)
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
            yield path, _outcome(task, path) or task.result()

    def _feed(self, *, block: bool) -> None:
        """Start hashing the next videos, in order, keeping at most ``_window`` of them ahead of
        the writer; ``block`` waits for the key of the video the writer needs next."""
        while (
            len(self._outcomes) < len(self._videos)
            and len(self._outcomes) - self._consumed < self._window
        ):
            index = len(self._outcomes)
            key = self._keys[index]
            if not key.done() and not (block and index == self._consumed):
                return
            sha256, error = key.result()
            if error is not None or sha256 is None:
                self._outcomes.append(error or f"{self._videos[index]}: could not be read")
            elif present := self.store.count_items(self._source, sha256):
                self._outcomes.append(present)  # as a local add: not decoded again
            else:
                self._outcomes.append(
                    self.client.submit(
                        _hash_video_task,
                        self._videos[index],
                        self.policy or SamplingPolicy(),
                        self.keypoints,
                        self.thumbnails,
                        pure=False,
                        priority=10,
                    )
                )

    def _wait(self, task: Any) -> None:
        """Wait for ``task``, starting videos whose keys come in meanwhile."""
        from dask.distributed import wait

        while True:
            self._feed(block=False)
            if task.done():
                return
            with contextlib.suppress(TimeoutError):
                wait([task], timeout=WAIT_STEP_S)

    def _video_result(self, index: int, video: Path) -> VideoAddReport:
        while len(self._outcomes) <= index:
            self._feed(block=True)
        outcome = self._outcomes[index]
        self._consumed = index + 1
        self._outcomes[index] = None  # the result is written once: let it go
        if isinstance(outcome, str):
            return VideoAddReport(video, error=outcome)
        if isinstance(outcome, int):
            return VideoAddReport(video, frames_present=outcome)
        self._wait(outcome)
        failed = _outcome(outcome, video)
        if failed is not None:
            return VideoAddReport(video, error=failed.error)
        return store_video(self.store, self._source, outcome.result(), str(video))


def _outcome(task: Any, path: Path) -> _Hashed | None:
    """None when the task succeeded; else a failed result naming ``path`` (a worker that died
    mid-task three times, a bug): the batch goes on with the other files."""
    try:
        task.result()
    except Exception as exc:  # whatever a worker raised: reported per file, the batch goes on
        return _Hashed(path, None, None, f"{path}: failed on the cluster ({exc!r})")
    return None
