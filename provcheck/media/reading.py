"""Read what the user points provcheck at: files and standard input, with bounds.

One reader for every input, so every input gets the same guarantees: only regular files are read
(a FIFO would block the run forever waiting for a writer, a device never ends), nothing is read
past its size cap (a stream is cut off as soon as it passes the cap, not after it has filled the
memory), and a problem becomes a one-line ``InputError`` naming the input. URLs have their own
bounded reader with a total deadline (``provcheck.media.fetch``).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from provcheck.errors import InputError

#: Largest standard input read (an image or a clip piped in): the cap of a video fetched by URL.
MAX_STDIN_BYTES = 512 * 1024 * 1024

_NOT_REGULAR = (
    (stat.S_ISDIR, "is a folder, not a file"),
    (stat.S_ISFIFO, "is a FIFO (named pipe), not a regular file; pipe it to 'provcheck scan -'"),
    (stat.S_ISCHR, "is a character device, not a regular file"),
    (stat.S_ISBLK, "is a block device, not a regular file"),
    (stat.S_ISSOCK, "is a socket, not a regular file"),
)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _undecodable(match: re.Match[str]) -> str:
    code = ord(match.group())
    # Python carries a file name's byte 0xNN that is not UTF-8 as the surrogate U+DCNN.
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def display_name(name: str | os.PathLike[str]) -> str:
    """``name`` as text any encoder accepts: a file name's bytes that are not UTF-8 (which Python
    carries as lone surrogates) are written ``\\xNN``. Everything else is kept as it is."""
    return _SURROGATE.sub(_undecodable, os.fspath(name))


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


@contextmanager
def opened(path: Path) -> Iterator[tuple[BinaryIO, int]]:
    """``path`` open for reading, with its size, for a block that reads it.

    The file is opened without blocking and checked with ``fstat`` on the open descriptor, so a
    FIFO (which would block the open until a writer came) or a device is refused at once, and a
    file swapped for one between a check and the open is caught too. An empty file is refused;
    an OS error inside the block becomes a one-line ``InputError`` naming the file.
    """
    name = display_name(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            for check, problem in _NOT_REGULAR:
                if check(info.st_mode):
                    raise InputError(name, problem)
            if info.st_size == 0:
                raise InputError(name, "file is empty (0 bytes)")
            yield handle, info.st_size  # type: ignore[misc]
    except FileNotFoundError:
        raise InputError(name, "no such file") from None
    except PermissionError:
        raise InputError(name, "permission denied (cannot read the file)") from None
    except IsADirectoryError:
        raise InputError(name, "is a folder, not a file") from None
    except OSError as exc:
        raise InputError(name, f"cannot read: {exc.strerror or exc}") from None


def read_file_bytes(path: Path, limit: int) -> bytes:
    """A whole regular file, refusing what is missing, unreadable, empty or over ``limit``."""
    with opened(path) as (handle, size):
        if size > limit:
            raise InputError(
                display_name(path),
                f"file is {human_bytes(size)}, over the {human_bytes(limit)} limit",
            )
        data = handle.read(limit + 1)
    if len(data) > limit:  # it grew while we read it
        raise InputError(display_name(path), f"file is over the {human_bytes(limit)} limit")
    return data


def read_head(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of a regular file (for sniffing its format)."""
    with opened(path) as (handle, _size):
        return handle.read(size)


def read_stream(stream: BinaryIO, limit: int, name: str = "<stdin>") -> bytes:
    """Everything ``stream`` holds, stopping (and refusing it) as soon as it passes ``limit``."""
    chunks: list[bytes] = []
    total = 0
    try:
        while chunk := stream.read(min(1 << 20, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise InputError(name, f"input is over the {human_bytes(limit)} limit")
    except OSError as exc:
        raise InputError(name, f"cannot read: {exc.strerror or exc}") from None
    return b"".join(chunks)
