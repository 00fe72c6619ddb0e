"""A total time bound for a blocking network exchange.

Socket timeouts bound the wait for each byte, never the exchange: a server that sends its
headers or its body one byte every few seconds keeps a fetch alive forever, and with enough such
URLs, a service's every thread. A ``Deadline`` is armed for one fetch; when it expires (or when
the whole process is stopping: ``expire_all``) it shuts the fetch's sockets down, so whatever read
was blocked returns at once, and the fetch reports that it ran out of time.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

_LIVE: set[Deadline] = set()
_LIVE_LOCK = threading.Lock()


class Deadline:
    """``seconds`` from now, for the sockets registered with ``track``. Use as a context manager
    around the exchange; ``expired`` says whether time ran out (or the exchange was cancelled)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ends = time.monotonic() + seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self.expire)
        self._timer.daemon = True
        self.expired = False
        self.reason = f"timed out: no complete answer within {seconds:g} s"

    def __enter__(self) -> Deadline:
        with _LIVE_LOCK:
            _LIVE.add(self)
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def remaining(self) -> float:
        return max(0.0, self._ends - time.monotonic())

    def track(self, sock: socket.socket) -> socket.socket:
        """Register a socket of this exchange (shut down if the deadline passes)."""
        with self._lock:
            if self.expired:
                _shut(sock)
            self._sockets.append(sock)
        return sock

    def expire(self, reason: str | None = None) -> None:
        with self._lock:
            if reason:
                self.reason = reason
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def expire_all(reason: str) -> None:
    """Stop every exchange in flight in this process (a server shutting down)."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for deadline in live:
        deadline.expire(reason)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
