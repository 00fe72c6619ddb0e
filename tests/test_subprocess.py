"""The installed ``provcheck`` entry point, run for real as a user would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _provcheck() -> list[str]:
    exe = shutil.which("provcheck") or str(Path(sys.executable).with_name("provcheck"))
    if not Path(exe).exists():
        pytest.fail("the provcheck console script is not installed: run pip install -e .")
    return [exe]


def _run(*args, env_extra=None, input=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [*_provcheck(), *map(str, args)],
        capture_output=True,
        env=env,
        input=input,
        timeout=120,
        check=False,
    )


def test_version_and_help():
    from provcheck import __version__

    assert _run("--version").stdout.decode().strip().endswith(__version__)
    assert b"scan" in _run("--help").stdout


def test_scan_with_the_bundled_pack_out_of_the_box(stills):
    result = _run("scan", stills["supertuxkart"], stills["wesnoth"], "--format", "json")
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert [r["status"] for r in doc["results"]] == ["match", "match"]
    assert doc["summary"]["databases"][0]["role"] == "bundled"


def test_build_a_database_and_scan_a_folder_in_parallel(tmp_path, stills, make_picture):
    db = tmp_path / "refs.sqlite"
    added = _run(
        "db", "add", stills["wesnoth"], "--label", "Wesnoth", "--category", "game", "--db", db
    )
    assert added.returncode == 0, added.stderr
    for n in range(8):
        make_picture(f"inbox/{n}.jpg", 100 + n)
    (tmp_path / "inbox" / "broken.jpg").write_bytes(b"\xff\xd8 nope")
    shutil.copy(stills["wesnoth"], tmp_path / "inbox" / "repost.jpg")
    result = _run("scan", tmp_path / "inbox", "--db", db, "--format", "jsonl", "--jobs", "2")
    assert result.returncode == 2  # one unreadable input outranks the match
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    by_name = {Path(r["input"]).name: r["status"] for r in lines[:-1]}
    assert by_name["repost.jpg"] == "match"
    assert by_name["broken.jpg"] == "error"
    assert sum(s == "clean" for s in by_name.values()) == 8
    assert lines[-1]["summary"]["inputs"] == 10


def test_error_messages_are_one_line_on_stderr(tmp_path):
    bad = tmp_path / "foreign.db"
    bad.write_text("x" * 1000)
    result = _run("scan", "whatever.jpg", "--db", bad)
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "foreign.db" in lines[0] and "not a provcheck database" in lines[0]


def test_python_dash_m(stills):
    result = subprocess.run(
        [sys.executable, "-m", "provcheck", "scan", stills["wesnoth"]],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout.startswith(b"MATCH")
