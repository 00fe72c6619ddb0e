"""The service's hashing workers: processes that each run one job at a time and are replaced one
by one, never as a pool.

A ``ProcessPoolExecutor`` cannot lose a worker: once one dies (out of memory, a crash in native
decoding code) the whole pool is broken and every later upload fails, while nothing says so. It
cannot take a job back either: one that runs past its request's deadline keeps its worker until
it ends. Here every worker is its own process on its own pipe, so a job past its deadline has its
worker killed, and a worker that dies is replaced; in both cases only that one job fails. The
health check reads ``alive``: a service with no worker left says so.

Workers are started with ``spawn`` (forking a process that runs threads is unsafe), die with the
server (``services.workers.guard_worker``), and end when their pipe closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any


class WorkerLostError(Exception):
    """The worker running a job died (it has been replaced): the job did not finish."""


class JobTimeoutError(Exception):
    """A job (or the wait for a free worker) ran past its deadline; its worker was replaced."""


class JobFailedError(Exception):
    """The job raised inside the worker (a bug: jobs report bad input as results)."""


def _serve(conn: Connection, parent: int) -> None:
    """A worker's life: run each job sent on ``conn`` and send back its result, until the pipe
    closes (the server stopped) or the server process goes away."""
    from provcheck.services.workers import guard_worker

    # Started from whatever thread replaces a worker: no kernel death signal (it would fire when
    # that thread ends); the parent watch and the pipe closing end the worker instead.
    guard_worker(parent, kernel_signal=False)
    while True:
        try:
            function, args, kwargs = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply: tuple[bool, Any] = (True, function(*args, **kwargs))
        except Exception as exc:  # reported to the server, which answers 500
            reply = (False, f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return


class _Worker:
    def __init__(self, context: Any) -> None:
        self.conn, theirs = context.Pipe()
        self.process = context.Process(target=_serve, args=(theirs, os.getpid()), daemon=True)
        self.process.start()
        theirs.close()

    def call(
        self, function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Run one job (blocking, in a thread); ``WorkerLostError`` if the worker dies."""
        try:
            self.conn.send((function, args, kwargs))
            ok, value = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerLostError(f"the hashing worker stopped ({type(exc).__name__})") from None
        if not ok:
            raise JobFailedError(value)
        return value

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self.process.kill()
            self.process.join(timeout=2)
        with contextlib.suppress(OSError):
            self.conn.close()


class IsolatedWorkers:
    """``count`` worker processes, each warmed up by ``warm_up`` (a function and its arguments)
    before it takes jobs. ``run`` is called from the event loop; everything else is thread-safe."""

    def __init__(self, count: int, warm_up: tuple[Callable[..., Any], tuple[Any, ...]]) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._warm_up = warm_up
        self._lock = threading.Lock()
        self._threads = ThreadPoolExecutor(max_workers=2 * count + 2, thread_name_prefix="job")
        self._idle: asyncio.Queue[_Worker] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._closed = False
        self.count = count
        for worker in [self._start() for _ in range(count)]:
            worker.call(*warm_up, {})  # import numpy and the hashers now, not on the first request
            self._ready.append(worker)

    @property
    def alive(self) -> int:
        """Workers started and not lost (those being replaced are not counted)."""
        with self._lock:
            return len(self._all)

    @property
    def idle(self) -> int:
        return len(self._ready) if self._idle is None else self._idle.qsize()

    def _start(self) -> _Worker:
        worker = _Worker(self._context)
        with self._lock:
            self._all.add(worker)
        return worker

    def _queue(self) -> asyncio.Queue[_Worker]:
        if self._idle is None:
            self._loop = asyncio.get_running_loop()
            self._idle = asyncio.Queue()
            for worker in self._ready:
                self._idle.put_nowait(worker)
        return self._idle

    async def run(
        self, timeout: float, function: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        """``function(*args, **kwargs)`` in a free worker, within ``timeout`` seconds (the wait
        for a free worker included)."""
        idle = self._queue()
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            worker = await asyncio.wait_for(idle.get(), max(0.01, timeout))
        except TimeoutError:
            raise JobTimeoutError(f"no hashing worker was free within {timeout:.0f} s") from None
        job = loop.run_in_executor(self._threads, worker.call, function, args, kwargs)
        try:
            result = await asyncio.wait_for(job, max(0.01, timeout - (loop.time() - started)))
        except TimeoutError:
            self._replace(worker)
            raise JobTimeoutError(f"the scan took more than {timeout:.0f} s; stopped") from None
        except WorkerLostError:
            self._replace(worker)
            raise
        except JobFailedError:
            idle.put_nowait(worker)
            raise
        except BaseException:  # cancelled (the server is stopping): the worker may be busy
            self._replace(worker)
            raise
        idle.put_nowait(worker)
        return result

    def _replace(self, worker: _Worker) -> None:
        """Kill ``worker`` and start another in the background; it takes jobs once warmed up."""
        worker.stop()
        with self._lock:
            self._all.discard(worker)
        if not self._closed:
            threading.Thread(target=self._start_replacement, daemon=True).start()

    def _start_replacement(self) -> None:
        try:
            worker = self._start()
            worker.call(*self._warm_up, {})
        except (OSError, WorkerLostError, JobFailedError):
            return  # one worker fewer; the health check shows it
        if self._closed or self._loop is None or self._idle is None:
            worker.stop()
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: the server stopped
            self._loop.call_soon_threadsafe(self._idle.put_nowait, worker)

    def close(self) -> None:
        """Stop every worker now (jobs in flight fail) and let go of the threads."""
        self._closed = True
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.stop()
        self._threads.shutdown(wait=False, cancel_futures=True)
