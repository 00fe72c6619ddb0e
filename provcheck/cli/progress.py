"""A one-line progress bar on standard error that other output is written above.

Results go to standard output and the bar to standard error; on a terminal both land on one
screen. A line written while the bar holds the cursor's line is glued to it
(``scanning  [######------]   16%clean  posts/beach1.jpg``), so everything written during the bar
goes through ``ProgressBar.above``: it blanks the bar's line, lets the caller write whole lines,
and draws the bar again below them. The bar leaves nothing behind when it closes, so the results
and the summary read as if there had been no bar. Blanking is done with spaces and a carriage
return, not escape sequences, so it works on every terminal.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

#: Widest bar drawn, in characters; narrower terminals get a shorter one.
BAR_WIDTH = 30
#: Narrowest bar worth drawing; below it only the counts are shown.
MIN_BAR_WIDTH = 5
#: Seconds before an estimate of the time left is shown (the first items are the slowest).
ETA_AFTER_S = 2.0


def _columns(stream: IO[str]) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 80


class ProgressBar:
    """``label  [#####-----]  50%  20/40  eta 00:12`` on ``stream``, redrawn as work advances.

    Disabled (``enabled=False``) it draws nothing, so callers need no second code path.
    ``show_count=False`` leaves out ``20/40`` where the steps are not things a person counts
    (the per-mille of a video decoded).
    """

    def __init__(
        self,
        stream: IO[str],
        total: int,
        label: str,
        *,
        enabled: bool = True,
        show_count: bool = True,
    ) -> None:
        self.stream = stream
        self.total = max(total, 0)
        self.label = label
        self.enabled = enabled
        self.show_count = show_count
        self.done = 0
        self._drawn = 0  # characters of the bar currently on screen
        self._held = False  # inside ``above``: draw when it ends, not before
        self._started = time.monotonic()

    def __enter__(self) -> ProgressBar:
        self._draw()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Blank the bar for good (what is written afterwards needs no ``above``)."""
        self._clear()
        self.enabled = False

    def advance(self, n: int = 1) -> None:
        self.done = min(self.done + n, self.total)
        if not self._held:
            self._draw()

    @contextmanager
    def above(self, out: IO[str] | None = None) -> Iterator[None]:
        """Blank the bar, let the caller write whole lines (to ``out`` or anywhere), then draw
        the bar again below them. ``out`` is flushed first so its lines are on screen before the
        bar comes back (standard output and standard error are buffered separately)."""
        self._clear()
        self._held = True
        try:
            yield
        finally:
            self._held = False
            if out is not None:
                out.flush()
            self._draw()

    def line(self, columns: int) -> str:
        """The bar as drawn on a terminal ``columns`` wide (one column is kept free: writing the
        last one makes some terminals wrap, and the carriage return would then miss the bar)."""
        fraction = self.done / self.total if self.total else 1.0
        counts = f"{int(fraction * 100):3d}%"
        if self.show_count:
            counts += f"  {self.done}/{self.total}"
        elapsed = time.monotonic() - self._started
        if 0 < self.done < self.total and elapsed >= ETA_AFTER_S:
            left = int(elapsed / self.done * (self.total - self.done))
            counts += f"  eta {left // 60:02d}:{left % 60:02d}"
        room = columns - 1 - len(self.label) - len(counts) - 6
        width = min(BAR_WIDTH, room)
        if width < MIN_BAR_WIDTH:
            return f"{self.label}  {counts}"[: max(columns - 1, 0)]
        filled = int(fraction * width)
        return f"{self.label}  [{'#' * filled}{'-' * (width - filled)}]  {counts}"

    def _draw(self) -> None:
        if not self.enabled:
            return
        text = self.line(_columns(self.stream))
        pad = " " * max(self._drawn - len(text), 0)
        self.stream.write(f"\r{text}{pad}")
        self.stream.flush()
        self._drawn = len(text)

    def _clear(self) -> None:
        if not self.enabled or not self._drawn:
            return
        self.stream.write(f"\r{' ' * self._drawn}\r")
        self.stream.flush()
        self._drawn = 0
