"""What a newcomer runs into in the first hour: a scan of a folder with nothing to scan, a
first-seen date in the future, ``--quiet``, and shell completion."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from provcheck.cli import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_an_empty_folder_says_there_is_nothing_to_scan_and_exits_0(tmp_path, ref_db):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no pictures here\n")
    result = run("scan", empty, "--db", ref_db)
    assert result.exit_code == 0
    assert result.stderr.startswith(
        f"provcheck: warning: nothing to scan: {empty} holds no picture or video files (."
    )
    assert " .avi " in result.stderr
    assert "--include GLOB" in result.stderr
    assert result.stdout.startswith("0 inputs: 0 match")  # the report itself is unchanged
    doc = json.loads(run("scan", empty, "--db", ref_db, "--format", "json").stdout)
    assert doc["summary"]["inputs"] == 0 and doc["summary"]["exit_code"] == 0


def test_nothing_to_scan_names_the_filters_that_left_nothing(tmp_path, ref_db, pictures):
    folder = tmp_path / "posts"
    folder.mkdir()
    shutil.copy(pictures["known"], folder / "a.jpg")
    result = run("scan", folder, "--db", ref_db, "--include", "*.png", "--exclude", "a*")
    assert result.exit_code == 0
    assert (
        f"nothing to scan: no file in {folder} passes --include *.png and --exclude a*"
        in result.stderr
    )
    # Only a scan with no inputs at all says so; a missing path is an error input, as before.
    missing = run("scan", tmp_path / "nope", "--db", ref_db)
    assert missing.exit_code == 2 and "nothing to scan" not in missing.stderr


@pytest.mark.parametrize("command", ["add", "import"])
def test_a_first_seen_date_in_the_future_is_refused(tmp_path, stills, command):
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    target = stills["wesnoth"]
    if command == "import":
        target = tmp_path / "list.txt"
        target.write_text("a" * 64 + "\n")
    result = run(
        "db", command, target, "--label", "L", "--category", "game", "--first-seen", tomorrow,
        "--db", tmp_path / "refs.sqlite",
    )  # fmt: skip
    assert result.exit_code == 2
    assert f"{tomorrow} is in the future" in result.output
    assert not (tmp_path / "refs.sqlite").exists()  # refused before anything was opened


def test_a_first_seen_date_of_today_is_accepted(tmp_path, stills):
    result = run(
        "db", "add", stills["wesnoth"], "--label", "L", "--category", "game",
        "--first-seen", date.today().isoformat(), "--db", tmp_path / "refs.sqlite",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_quiet_keeps_matches_and_errors_only(tmp_path, pictures, ref_db):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not a picture")
    args = ("scan", pictures["known"], pictures["unknown"], broken, "--db", ref_db)
    quiet = run(*args, "--quiet")
    assert quiet.exit_code == run(*args).exit_code == 2
    inputs = [line for line in quiet.stdout.splitlines() if not line.startswith(" ")]
    assert [line.split()[0] for line in inputs] == ["MATCH", "ERROR"]
    # A kept input keeps its metadata flag lines; a clean one's flags go with it.
    assert "flag no_metadata" in quiet.stdout
    assert quiet.stdout.count("flag ") == 1
    # Machine formats hold every result whatever --quiet says: they are filtered by status.
    doc = json.loads(run(*args, "--quiet", "--format", "json").stdout)
    assert [r["status"] for r in doc["results"]] == ["match", "clean", "error"]


def _provcheck() -> str:
    return shutil.which("provcheck") or str(Path(sys.executable).with_name("provcheck"))


@pytest.mark.slow
def test_shell_completion_as_the_readme_says():
    """README, "Shell completion": click's ``_PROVCHECK_COMPLETE`` for the installed command."""
    env = {**os.environ, "_PROVCHECK_COMPLETE": "bash_source"}
    script = subprocess.run(
        [_provcheck()], env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert script.returncode == 0
    assert "_provcheck_completion()" in script.stdout
    env = {
        **os.environ,
        "_PROVCHECK_COMPLETE": "bash_complete",
        "COMP_WORDS": "provcheck scan --fo",
        "COMP_CWORD": "2",
    }
    options = subprocess.run(
        [_provcheck()], env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert "plain,--format" in options.stdout.splitlines()
    env.update(COMP_WORDS="provcheck db re", COMP_CWORD="2")
    commands = subprocess.run(
        [_provcheck()], env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert commands.stdout.splitlines() == ["plain,remove"]
