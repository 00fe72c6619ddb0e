"""Bytes in and out of a pack: a file, standard input or an http(s) URL read once, front to back,
with the SHA-256 of the bytes as published; gzip and zstd recognised by their magic bytes on the
way in and chosen by the file name (``.gz``, ``.zst``) on the way out.

Nothing here seeks: a pipe or a process substitution (``db import <(curl ...)``) reads like a
file. A URL is fetched with the scan's bounded, SSRF-guarded fetcher into a temporary file first,
so its size is capped and the import reads it as a file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from provcheck.errors import FormatError, UsageError
from provcheck.media.fetch import fetch_into, is_url

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: Largest pack fetched from a URL (written to a temporary file, never held in memory). A pack
#: with keypoints takes about 25 KB a reference: this is some 80,000 of them, uncompressed.
MAX_PACK_BYTES = 2 * 1024**3
#: Largest detached signature fetched from a URL; a real one is under 1 KB.
MAX_SIGNATURE_BYTES = 64 * 1024
_CHUNK = 1 << 20
_GZIP_LEVEL = 6
_ZSTD_LEVEL = 10


class DigestingReader(io.RawIOBase):
    """Reads another binary stream, counting and hashing every byte that passes."""

    def __init__(self, inner: BinaryIO) -> None:
        super().__init__()
        self._inner = inner
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.sha256.update(data)
        self.size += n
        return n

    def drain(self) -> None:
        """Read what is left, so the digest covers the whole input (trailing bytes too)."""
        while self.read(_CHUNK):
            pass


class DigestingWriter(io.RawIOBase):
    """Writes to another binary stream, hashing every byte: a signature is made as it is written."""

    def __init__(self, inner: BinaryIO) -> None:
        super().__init__()
        self._inner = inner
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._inner.write(view)
        self.sha256.update(view)
        self.size += len(view)
        return len(view)

    def flush(self) -> None:
        self._inner.flush()


@dataclass
class PackInput:
    """An open input: its text lines, what to call it in messages and in the database, and the
    digest of its bytes once ``finish`` has read them all."""

    name: str
    location: str
    lines: Iterator[str]
    raw: DigestingReader
    closers: ExitStack = field(default_factory=ExitStack)

    def finish(self) -> str:
        """Read to the end and return the SHA-256 (hex) of every byte."""
        self.raw.drain()
        return self.raw.sha256.hexdigest()


def _zstd() -> Any:
    try:
        import zstandard
    except ImportError:
        raise UsageError(
            "zstd-compressed packs need the zstandard library: pip install 'provcheck[zstd]'"
        ) from None
    return zstandard


def _decompressed(buffered: io.BufferedReader, name: str) -> IO[bytes]:
    magic = buffered.peek(4)[:4]
    if magic.startswith(GZIP_MAGIC):
        return gzip.GzipFile(fileobj=buffered, mode="rb")
    if magic == ZSTD_MAGIC:
        return _zstd().ZstdDecompressor().stream_reader(buffered, read_across_frames=True)
    return buffered


def _text_lines(stream: IO[bytes], name: str) -> Iterator[str]:
    """Lines of UTF-8 text; a decoding or decompression failure names the input."""
    text = io.TextIOWrapper(stream, encoding="utf-8", newline=None)
    try:
        yield from text
    except UnicodeDecodeError:
        raise FormatError(f"{name}: not UTF-8 text; expected a pack or a hash list") from None
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError; zstd raises ZstdError
        raise FormatError(f"{name}: the compressed data is corrupt ({exc})") from None
    except Exception as exc:
        if type(exc).__name__ == "ZstdError":
            raise FormatError(f"{name}: the compressed data is corrupt ({exc})") from None
        raise


@contextmanager
def open_pack(source: str, *, allow_private: bool = False) -> Iterator[PackInput]:
    """Open ``source`` (a path, ``-`` for standard input, or an http(s) URL) for one pass."""
    with ExitStack() as stack:
        if source == "-":
            binary: BinaryIO = sys.stdin.buffer
            name, location = "<stdin>", "-"
        elif is_url(source):
            spool = stack.enter_context(tempfile.TemporaryFile())
            fetch_into(
                source,
                spool,
                max_bytes=MAX_PACK_BYTES,
                what="a reference pack",
                allow_private=allow_private,
            )
            spool.seek(0)
            binary, name, location = spool, source, source
        else:
            path = Path(source).expanduser()
            try:
                binary = stack.enter_context(path.open("rb"))
            except FileNotFoundError:
                raise UsageError(f"{source}: no such file") from None
            except IsADirectoryError:
                raise UsageError(f"{source}: is a folder; name the pack file") from None
            except OSError as exc:
                raise UsageError(f"{source}: cannot read ({exc.strerror or exc})") from None
            name, location = source, str(path.resolve())
        raw = DigestingReader(binary)
        buffered = io.BufferedReader(raw, _CHUNK)
        lines = _text_lines(_decompressed(buffered, name), name)
        yield PackInput(name, location, lines, raw, stack)


def read_small(source: str, *, allow_private: bool = False) -> bytes:
    """A small companion file (a detached signature): a path or an http(s) URL."""
    if is_url(source):
        buffer = io.BytesIO()
        fetch_into(
            source,
            buffer,
            max_bytes=MAX_SIGNATURE_BYTES,
            what="a pack signature",
            allow_private=allow_private,
        )
        return buffer.getvalue()
    path = Path(source).expanduser()
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SIGNATURE_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"{source}: no such file (the pack's signature)") from None
    except OSError as exc:
        raise UsageError(f"{source}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_SIGNATURE_BYTES:
        raise FormatError(f"{source}: over {MAX_SIGNATURE_BYTES} bytes; not a pack signature")
    return data


@contextmanager
def open_output(output: Path | None) -> Iterator[tuple[IO[str], DigestingWriter]]:
    """Text to write a pack to (standard output when ``output`` is None), compressed as its
    name says (``.gz``: gzip, ``.zst``: zstd), and the digest of the bytes written."""
    with ExitStack() as stack:
        if output is None:
            binary: BinaryIO = sys.stdout.buffer
        else:
            try:
                binary = stack.enter_context(output.open("wb"))
            except OSError as exc:
                raise UsageError(f"{output}: cannot write ({exc.strerror or exc})") from None
        digest = DigestingWriter(binary)
        suffix = output.suffix.lower() if output is not None else ""
        compressed: Any
        if suffix == ".gz":
            # No name and no time in the header: the same references give the same bytes.
            compressed = gzip.GzipFile(
                filename="", mode="wb", fileobj=digest, compresslevel=_GZIP_LEVEL, mtime=0
            )
        elif suffix == ".zst":
            compressor = _zstd().ZstdCompressor(level=_ZSTD_LEVEL)
            compressed = compressor.stream_writer(digest, closefd=False)
        else:
            compressed = io.BufferedWriter(digest, _CHUNK)
        text = io.TextIOWrapper(compressed, encoding="utf-8", newline="\n")
        try:
            yield text, digest
        finally:
            text.flush()
            text.detach()
            if isinstance(compressed, io.BufferedWriter):
                compressed.flush()
            else:
                compressed.close()  # writes the gzip trailer / ends the zstd frame
            digest.flush()
