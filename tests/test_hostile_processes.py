"""Worker processes never outlive their command (issue 18, item 10): kill -9 or SIGTERM of a
``scan`` or ``db add`` running with jobs leaves no worker behind holding the caller's output open.
"""

from __future__ import annotations

import select
import signal
import subprocess
import time

import pytest

from tests.conftest import noise_picture
from tests.hostile_corpus import alive, children_of, kill_all, kill_group, provcheck_exe, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def many_pictures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("many")
    for n in range(80):
        noise_picture(500 + n, (640, 480)).save(folder / f"{n:03}.jpg", quality=90)
    return folder


def _eof_within(stream, seconds: float) -> bool:
    """Whether ``stream`` (a pipe) reaches end of file within ``seconds``: every process holding
    its write end has gone."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.2)
        if ready and not stream.read1(65536):
            return True
    return False


@pytest.mark.parametrize(("command", "how"), [("scan", signal.SIGKILL), ("db add", signal.SIGTERM)])
def test_killing_a_command_with_jobs_leaves_no_worker(
    many_pictures, ref_db, tmp_path, how, command
):
    if command == "scan":
        args = ["scan", str(many_pictures), "--db", str(ref_db), "--jobs", "2"]
    else:
        args = ["db", "add", str(many_pictures), "--db", str(tmp_path / "new.sqlite"),
                "--label", "L", "--category", "game", "--jobs", "2"]  # fmt: skip
    workers: set[int] = set()
    with subprocess.Popen(
        [provcheck_exe(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    ) as proc:
        try:
            assert wait_until(lambda: len(children_of(proc.pid)) >= 2, 20), "no workers started"
            time.sleep(0.5)  # the workers are hashing
            workers = children_of(proc.pid)
            proc.send_signal(how)
            proc.wait(timeout=20)
            assert _eof_within(proc.stdout, 10), "a worker still holds the caller's stdout open"
            assert wait_until(lambda: not any(alive(p) for p in workers), 10), workers
        finally:
            kill_all(sorted(workers))
            kill_group(proc.pid)
