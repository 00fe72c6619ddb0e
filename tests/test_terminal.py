"""A scan as a person sees it in a terminal: a real ``provcheck scan`` of a folder on a
pseudo-terminal, its bytes played into a terminal emulator (pyte), and the screen read back.

Results go to standard output and the progress bar to standard error; on a terminal both land on
one screen, where a result written over the bar's line used to be glued to it
(``scanning  [######------]   16%clean  posts/beach1.jpg``).
"""

from __future__ import annotations

import fcntl
import io
import os
import pty
import select
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pyte
import pytest

from provcheck.cli.progress import ProgressBar
from provcheck.report.style import colour_wanted, paint

#: Wide enough that no result line wraps (they hold temporary paths), so screen rows are lines.
COLUMNS, ROWS = 400, 40


def _provcheck() -> str:
    exe = shutil.which("provcheck") or str(Path(sys.executable).with_name("provcheck"))
    assert Path(exe).exists(), "the provcheck console script is not installed"
    return exe


def run_on_a_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, bytes]:
    """Run ``args`` with standard input, output and error on one pseudo-terminal; return the
    exit status and every byte the terminal received, in the order it received them."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    proc = subprocess.Popen(
        args, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env, start_new_session=True
    )
    os.close(slave)
    received = bytearray()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 120)
            if not ready:
                raise TimeoutError(f"no output for 120 s from {args}")
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the last writer closed the terminal (Linux)
                break
            if not chunk:
                break
            received += chunk
    finally:
        os.close(master)
        status = proc.wait(timeout=60)
    return status, bytes(received)


def screen_of(received: bytes) -> pyte.Screen:
    screen = pyte.Screen(COLUMNS, ROWS)
    pyte.ByteStream(screen).feed(received)
    return screen


def shown_lines(screen: pyte.Screen) -> list[str]:
    return [line.rstrip() for line in screen.display if line.strip()]


@pytest.fixture
def inbox(tmp_path, pictures) -> Path:
    """Eight inputs with every kind of line: matches, clean pictures, an unreadable file."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    for n in range(3):
        shutil.copy(pictures["known"], folder / f"repost{n}.jpg")
        shutil.copy(pictures["unknown"], folder / f"fresh{n}.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a picture")
    shutil.copy(pictures["unknown"], folder / "last.jpg")
    return folder


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES")}
    return {**env, "TERM": "xterm-256color", **extra}


@pytest.mark.slow
def test_results_are_never_glued_to_the_progress_bar(tmp_path, inbox, ref_db):
    args = [_provcheck(), "scan", "inbox", "--db", str(ref_db), "--jobs", "1"]
    status, received = run_on_a_terminal(args, tmp_path, _env())  # colour on, as by default
    assert status == 2, received.decode(errors="replace")  # matches and an unreadable input

    # The bar was on screen (on by default: standard error is a terminal), between the results.
    assert received.count(b"scanning  [") >= 8, received
    # What the same scan writes to a pipe, line for line, is what the screen shows.
    piped = subprocess.run(
        args, cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120
    )
    expected = piped.stdout.splitlines()
    lines = shown_lines(screen_of(received))
    assert len(lines) == len(expected), lines
    assert len([line for line in lines if not line.startswith(" ")]) == 9  # 8 inputs, a summary
    assert lines[:-1] == expected[:-1]  # the summary's elapsed time differs from run to run
    assert lines[-1].startswith("8 inputs: 3 match, 4 clean, 0 insufficient, 1 error")
    assert not any("scanning" in line for line in lines)  # and the bar left no trace


@pytest.mark.slow
def test_colour_on_a_terminal_unless_no_color(tmp_path, inbox, ref_db):
    args = [_provcheck(), "scan", "inbox", "--db", str(ref_db), "--jobs", "1"]
    _, received = run_on_a_terminal(args, tmp_path, _env())
    screen = screen_of(received)
    rows = {line.split()[0]: n for n, line in enumerate(screen.display) if line.strip()}
    match, error, clean = (screen.buffer[rows[word]][0] for word in ("MATCH", "ERROR", "clean"))
    assert (match.fg, match.bold) == ("red", True)
    assert (error.fg, error.bold) == ("brown", True)  # pyte's name for SGR 33
    assert clean.fg == "green"

    _, received = run_on_a_terminal(args, tmp_path, _env(NO_COLOR="1"))
    assert b"\x1b[1;31m" not in received
    screen = screen_of(received)
    assert all(cell.fg == "default" for row in screen.buffer.values() for cell in row.values())


@pytest.mark.slow
def test_quiet_on_a_terminal_shows_only_matches_and_errors(tmp_path, inbox, ref_db):
    args = [_provcheck(), "scan", "inbox", "--db", str(ref_db), "--jobs", "1", "--quiet"]
    status, received = run_on_a_terminal(args, tmp_path, _env(NO_COLOR="1"))
    assert status == 2
    assert b"scanning" not in received  # --quiet: no bar either
    lines = shown_lines(screen_of(received))
    words = [line.split()[0] for line in lines if not line.startswith(" ")]  # not flag lines
    assert words == ["ERROR", "MATCH", "MATCH", "MATCH"]  # broken.jpg sorts first


@pytest.mark.slow
def test_db_add_errors_are_never_glued_to_its_progress_bar(tmp_path, inbox):
    args = [_provcheck(), "db", "add", "inbox", "--label", "L", "--category", "game"]
    args += ["--db", str(tmp_path / "refs.sqlite"), "--jobs", "1"]
    status, received = run_on_a_terminal(args, tmp_path, _env(NO_COLOR="1"))
    assert status == 2
    assert received.count(b"adding  [") >= 8, received
    lines = shown_lines(screen_of(received))
    assert len(lines) == 2, lines
    assert lines[0].startswith("provcheck: error: inbox/broken.jpg: ")
    assert lines[1].startswith("created source 1 'L': 2 added, 5 already present, 1 failed")


@pytest.mark.slow
def test_no_colour_in_files_and_pipes(tmp_path, pictures, ref_db, monkeypatch):
    """Colour is for a person at a terminal: never in a report file or a pipe, whatever TERM."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    report = tmp_path / "report.txt"
    run = subprocess.run(
        [_provcheck(), "scan", str(pictures["known"]), "--db", str(ref_db), "-o", str(report)],
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 1
    assert report.read_text().startswith("MATCH  ")
    assert b"\x1b" not in report.read_bytes() + run.stdout + run.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("env", "wanted"),
    [
        ({}, True),
        ({"NO_COLOR": "1"}, False),
        ({"NO_COLOR": ""}, True),  # no-color.org: set *and not empty*
        ({"TERM": "dumb"}, False),
    ],
)
def test_colour_wanted_respects_no_color_and_dumb_terminals(monkeypatch, env, wanted):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert colour_wanted(_Terminal()) is wanted
    assert colour_wanted(io.StringIO()) is False


def test_paint_only_status_words():
    assert paint("MATCH", True) == "\x1b[1;31mMATCH\x1b[0m"
    assert paint("MATCH", False) == "MATCH"
    assert paint("posts/a.jpg", True) == "posts/a.jpg"


def test_progress_bar_blanks_its_line_before_output_and_draws_again_after():
    err, out = _Terminal(), io.StringIO()
    with ProgressBar(err, 4, "scanning") as bar:
        first = err.getvalue()
        assert first.startswith("\rscanning  [") and first.endswith("0%  0/4")
        with bar.above(out):
            assert err.getvalue() == first + "\r" + " " * (len(first) - 1) + "\r"
            out.write("clean  a.jpg\n")
            bar.advance()
            assert err.getvalue().endswith("\r")  # nothing drawn while the caller writes
        assert err.getvalue().endswith(" 25%  1/4")
    assert err.getvalue().endswith("\r" + " " * len(bar.line(80)) + "\r")  # closed: blank


def test_a_progress_bar_without_counts():
    bar = ProgressBar(io.StringIO(), 1000, "clip.mp4", show_count=False)
    bar.advance(500)
    assert bar.line(80).endswith("]   50%")


@pytest.mark.parametrize("columns", [12, 30, 60, 80, 200])
def test_progress_bar_fits_the_terminal(columns):
    bar = ProgressBar(io.StringIO(), 1000, "scanning")
    bar.advance(500)
    line = bar.line(columns)
    assert len(line) <= columns - 1
    assert "500/1000" in line or columns < 25


def test_a_disabled_progress_bar_writes_nothing():
    err, out = _Terminal(), io.StringIO()
    with ProgressBar(err, 3, "scanning", enabled=False) as bar, bar.above(out):
        bar.advance()
    assert err.getvalue() == ""
