"""Worker processes: how many a command uses by default, and pools whose workers never outlive
the command that started them; and a second thread inside one (``read_ahead``).

A process pool's workers wait for work on a pipe that they themselves hold open, so when the
command is killed (``kill -9``, SIGTERM, an out-of-memory kill) they never notice: they would wait
forever, holding the caller's standard output open, so that a pipeline reading it never ends.
Workers started here die with their parent (``PR_SET_PDEATHSIG`` on Linux, and a thread that
watches the parent everywhere) and never hold standard output.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

#: How often a worker checks that its parent is still there (where the kernel cannot tell it).
PARENT_CHECK_S = 0.5
_PR_SET_PDEATHSIG = 1


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """A pool of ``jobs`` worker processes that end when this process ends, however it ends."""
    return ProcessPoolExecutor(max_workers=jobs, initializer=guard_worker, initargs=(os.getpid(),))


def guard_worker(parent: int, *, kernel_signal: bool = True) -> None:
    """Run first in every worker: die with ``parent``, and let go of its standard output.

    ``kernel_signal`` asks Linux to kill the worker when its parent goes; the kernel means the
    parent *thread*, so a worker started from a short-lived thread (``provcheck serve`` replacing
    a worker) must go without it, on the parent watch alone."""
    if kernel_signal and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno() if sys.stdout else 1)
        os.close(devnull)


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(PARENT_CHECK_S)
        if os.getppid() != parent:
            os._exit(1)


def read_ahead(items: Iterable[T], depth: int = 8) -> Iterator[T]:
    """``items``, produced on a thread of their own up to ``depth`` ahead of the consumer.

    A video's frames are decoded (FFmpeg) while the frames before them are fingerprinted
    (OpenCV, pdqhash, Pillow): both let go of the interpreter while they work, so one process
    keeps two cores busy: the second core, while a clip too short to split is hashed alone.
    An error raised while producing is raised here, in the consumer, at the item it stopped at.
    Stopping early (a ``break``, an error in the consumer) stops the producer and closes
    ``items`` on its own thread (a video container is closed where it was read).
    """
    handoff: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def hand(ended: bool, value: Any) -> bool:
        while not stop.is_set():
            try:
                handoff.put((ended, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not hand(False, item):
                    return
            hand(True, None)
        except BaseException as exc:  # raised again in the consumer, whatever it is
            hand(True, exc)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    producer = threading.Thread(target=produce, name="provcheck-read-ahead", daemon=True)
    producer.start()
    try:
        while True:
            ended, value = handoff.get()
            if ended:
                if value is not None:
                    raise value
                return
            yield value
    finally:
        stop.set()
        producer.join()
