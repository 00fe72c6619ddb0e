"""The hostile corpus (issue 18), made by the tests themselves: files no one should commit (GIF
bombs, FIFOs, 1,000-level folders, names that are not UTF-8 or that carry terminal escapes), and
the harness that runs the real ``provcheck`` command against them with a time bound.

Everything here drives provcheck from outside (its command line, its HTTP service, its files on
disk), so the promises pinned by ``test_hostile_*.py`` hold whatever the package's inner layout.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import numpy as np
import pytest

#: Generous bounds: a fixed run takes a fraction of them; a hang or a CPU bomb blows through them.
QUICK_S = 30.0


def provcheck_exe() -> str:
    exe = shutil.which("provcheck") or str(Path(sys.executable).with_name("provcheck"))
    if not Path(exe).exists():
        pytest.fail("the provcheck console script is not installed: run pip install -e .")
    return exe


def _drop_file_permission_bypass() -> None:
    """Run as root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH: file modes then apply to root
    too, so 'read-only' and 'unreadable' mean what they say (CI runs as root)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run(
    *args: object,
    timeout: float = QUICK_S,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    unprivileged: bool = False,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``provcheck ARGS`` to completion within ``timeout`` seconds, or fail the test saying it
    hung (the process group is killed: nothing it started outlives the test)."""
    command = [provcheck_exe(), *(os.fsdecode(_as_path_text(arg)) for arg in args)]
    preexec = _drop_file_permission_bypass if unprivileged and os.geteuid() == 0 else None
    started = time.monotonic()
    with subprocess.Popen(
        command,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "LC_ALL": "C.UTF-8", **(env or {})},
        preexec_fn=preexec,  # noqa: PLW1509 - only drops capabilities, before exec
        start_new_session=True,
        cwd=cwd,
    ) as proc:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)
            out, err = proc.communicate()
            pytest.fail(
                f"provcheck {' '.join(command[1:])[:200]} did not finish within {timeout:.0f} s"
                f" (stderr: {err[-500:]!r})"
            )
    result = subprocess.CompletedProcess(command, proc.returncode, out, err)
    result.elapsed = time.monotonic() - started  # type: ignore[attr-defined]
    return result


class Overrun(BaseException):
    """Raised by ``time_bound`` when time is up. Not an ``Exception`` (nor a ``TimeoutError``,
    which is an ``OSError``): code that catches those around a blocking read must not swallow
    it and carry on as if the read had failed by itself."""


@contextlib.contextmanager
def time_bound(seconds: float, what: str) -> Iterator[None]:
    """Fail the test if the block runs past ``seconds`` (SIGALRM: main thread only)."""

    def expire(_signum: int, _frame: object) -> None:
        raise Overrun(what)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except Overrun:
        pytest.fail(f"{what} did not finish within {seconds:.0f} s")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def invoke(
    *args: object,
    timeout: float = QUICK_S,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``provcheck ARGS`` in this process with click's CliRunner: the same command as
    ``run`` without a new interpreter's start-up (about half a second of CPU each). An exception
    that escapes the command is the internal error (exit status 3) ``provcheck`` would report."""
    from click.testing import CliRunner

    from provcheck.cli import cli

    words = [os.fsdecode(_as_path_text(arg)) for arg in args]
    started = time.monotonic()
    with time_bound(timeout, f"provcheck {' '.join(words)[:200]}"):
        result = CliRunner().invoke(cli, words, input=input, env=env)
    code = result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        code = 3
    done = subprocess.CompletedProcess(words, code, result.stdout_bytes, result.stderr_bytes)
    done.elapsed = time.monotonic() - started  # type: ignore[attr-defined]
    done.exception = result.exception  # type: ignore[attr-defined]
    return done


def _as_path_text(arg: object) -> str | bytes:
    return arg if isinstance(arg, bytes) else str(arg)


def kill_group(pid: int) -> None:
    """SIGKILL the session a test started (by its leader's id; it is its own process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def stderr_lines(result: subprocess.CompletedProcess[bytes]) -> list[str]:
    return [line for line in result.stderr.decode("utf-8").splitlines() if line.strip()]


def jsonl(result: subprocess.CompletedProcess[bytes]) -> tuple[list[dict], dict]:
    """(results, summary) of a ``--format jsonl`` run, decoded strictly as UTF-8."""
    rows = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    assert rows and "summary" in rows[-1], result.stdout[-500:]
    return rows[:-1], rows[-1]["summary"]


def db_counts(db: Path) -> dict[str, int]:
    """Sources and items of ``db`` as ``provcheck db stats`` reports them."""
    result = invoke("db", "stats", "--db", db, "--format", "json")
    assert result.returncode == 0, result.stderr
    (stats,) = json.loads(result.stdout)
    return {"sources": stats["sources"], "items": stats["items"]}


def no_terminal_controls(text: str) -> bool:
    """True when ``text`` holds no character a terminal acts on: C0/C1 controls but newline, DEL,
    and the Unicode line separators and bidirectional overrides that reorder what is shown."""
    for ch in text:
        code = ord(ch)
        if ch == "\n":
            continue
        if code < 0x20 or 0x7F <= code <= 0x9F or ch in "\u2028\u2029" or 0x202A <= code <= 0x202E:
            return False
        if 0x2066 <= code <= 0x2069 or 0xD800 <= code <= 0xDFFF:
            return False
    return True


# -- processes -------------------------------------------------------------------------------


def children_of(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (read from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a parent that will not reap it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def kill_all(pids: Sequence[int]) -> None:
    """SIGKILL processes this test started (their ids were recorded while they ran)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


# -- hostile pictures ------------------------------------------------------------------------


def _lzw_block(pixels: bytes, min_code_size: int = 2) -> bytes:
    """GIF image data, LZW-coded without compression (a clear code before the table grows)."""
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    size = min_code_size + 1
    codes, run_length = [clear], 0
    for pixel in pixels:
        codes.append(pixel)
        run_length += 1
        if run_length == (1 << size) - end - 2:
            codes.append(clear)
            run_length = 0
    codes.append(end)
    bits = nbits = 0
    data = bytearray()
    for code in codes:
        bits |= code << nbits
        nbits += size
        while nbits >= 8:
            data.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
    if nbits:
        data.append(bits & 0xFF)
    out = bytearray([min_code_size])
    for start in range(0, len(data), 255):
        chunk = data[start : start + 255]
        out += bytes([len(chunk)]) + chunk
    return bytes(out + b"\x00")


def animated_gif(
    width: int, height: int, frames: int, *, frame_size: tuple[int, int] = (1, 1), delay_cs: int = 2
) -> bytes:
    """A GIF with a ``width`` x ``height`` canvas and ``frames`` small frames ``delay_cs``
    hundredths of a second apart: a CPU bomb when the canvas is large, as every frame is drawn
    on the whole canvas, yet a few bytes per frame."""
    out = bytearray(b"GIF89a")
    out += struct.pack("<HHBBB", width, height, 0x81, 0, 0)  # global table of 4 colours
    out += bytes((0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 255))
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    fw, fh = frame_size
    for n in range(frames):
        out += b"\x21\xf9\x04" + struct.pack("<BHBB", 0x04, delay_cs, 0, 0)
        x, y = (n * 7) % max(1, width - fw), (n * 13) % max(1, height - fh)
        out += b"\x2c" + struct.pack("<HHHHB", x, y, fw, fh, 0)
        out += _lzw_block(bytes((n + k) % 4 for k in range(fw * fh)))
    return bytes(out + b"\x3b")


def grey_16bit(image_rgb: np.ndarray) -> np.ndarray:
    """The picture as 16-bit grey levels (0-65535), as scientific and medical exports save it."""
    grey = image_rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return np.round(grey * 257).astype(np.uint16)


@contextlib.contextmanager
def deep_folder(root: Path, depth: int) -> Iterator[Path]:
    """``root/d/d/.../d`` ``depth`` levels deep, made and removed without recursion (pathlib and
    shutil.rmtree would overflow Python's stack on the way, as os.walk did in provcheck)."""
    path = os.fsencode(root)
    made = []
    for _ in range(depth):
        path += b"/d"
        os.mkdir(path)  # noqa: PTH102 - bytes paths, no pathlib recursion
        made.append(path)
    try:
        yield Path(os.fsdecode(path))
    finally:
        for folder in reversed(made):
            for name in os.listdir(folder):  # noqa: PTH208
                if name != b"d":
                    os.unlink(folder + b"/" + name)  # noqa: PTH108
            os.rmdir(folder)  # noqa: PTH106


def random_pdq_list(rows: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [bytes(row).hex() for row in rng.integers(0, 256, size=(rows, 32), dtype=np.uint8)]


# -- HTTP servers that misbehave ------------------------------------------------------------


class SlowDrip(BaseHTTPRequestHandler):
    """Answers 200 with a 1 MB body declared and sends it one byte every half second: never a
    gap long enough for a read timeout, never an end."""

    content_type = "image/jpeg"
    gap_s = 0.5

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(1 << 20))
        self.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(1 << 20):
                self.wfile.write(b"\xff")
                self.wfile.flush()
                time.sleep(self.gap_s)

    def log_message(self, *_args: object) -> None:
        return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
