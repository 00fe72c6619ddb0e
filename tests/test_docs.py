"""Docs that cannot drift: every command and scan option is in the README."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import click
from click.testing import CliRunner

from provcheck.cli import cli

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "provcheck"):
    for name, command in group.commands.items():
        yield f"{prefix} {name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix} {name}")


def test_every_command_has_a_readme_section():
    for name, command in _commands(cli):
        if not isinstance(command, click.Group):
            assert f"`{name}" in README, f"README does not document {name}"


def test_every_option_is_documented():
    for name, command in _commands(cli):
        for param in command.params:
            if isinstance(param, click.Option):
                for opt in param.opts:
                    if opt.startswith("--") and opt not in ("--help",):
                        assert opt in README, f"README does not mention {name} {opt}"


QUICK_START = README[README.index("## Quick start") : README.index("## Commands")]


def _quick_start_commands() -> list[str]:
    return re.findall(r"```sh\n(.*?)\n```", QUICK_START, flags=re.S)


def test_readme_gives_the_two_commands():
    """A newcomer gets exactly two commands: install the product (its extras, never the test
    tools) and run the main job on the bundled data; then install the test tools and run the
    tests. CI runs the second one as written."""
    install, tests = _quick_start_commands()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = set(pyproject["project"]["optional-dependencies"]) - {"test"}
    given = re.fullmatch(
        r"python3 -m venv \.venv && \. \.venv/bin/activate"
        r" && pip install -e '\.\[([a-z0-9,]+)\]' && provcheck scan tests/data/wesnoth\.jpg",
        install,
    )
    assert given, install
    assert set(given.group(1).split(",")) == extras  # the product's extras, all and only
    assert tests == "pip install -e '.[test]' && pytest"
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert f"{tests} || exit" in ci


def test_quick_start_output_is_what_the_scan_prints(monkeypatch):
    example = re.search(r"```\n(MATCH .*?)\n```", QUICK_START, flags=re.S)
    assert example
    *lines, summary = example.group(1).splitlines()
    monkeypatch.chdir(ROOT)
    run = CliRunner().invoke(cli, ["scan", "tests/data/wesnoth.jpg"])
    *printed, printed_summary = run.stdout.splitlines()
    assert printed == lines
    timing = re.compile(r"; [0-9.]+ s\)$")  # the one figure that changes from run to run
    assert timing.sub("", printed_summary) == timing.sub("", summary)


def test_quick_start_names_the_tests_that_skip():
    """The suite skips a few tests where Chromium or ../shared is missing; the Quick start says
    which, so "3 skipped" is no surprise."""
    tests = ROOT / "tests"
    browser = (tests / "test_report_browser.py").read_text().count("\n@needs_browser\n")
    devset = {
        path.name: path.read_text().count('pytest.skip("devset not present")')
        for path in sorted(tests.glob("test_*.py"))
        if path.name != Path(__file__).name
    }
    devset = {name: n for name, n in devset.items() if n}
    text = " ".join(QUICK_START.split())
    assert (
        f"the {browser} browser tests of the HTML report (`tests/test_report_browser.py`)" in text
    )
    assert f"{sum(devset.values())} tests on real gameplay frames" in text
    for name in devset:
        assert f"`tests/{name}`" in text
    assert "PROVCHECK_TEST_PRECOMMIT_INSTALL=1" in text
    if "pytest.skip(" in (tests / "test_video_containers.py").read_text():
        assert "`tests/test_video_containers.py`) without the `ffmpeg` program" in text


def test_every_json_field_is_documented():
    """Users script against the JSON: a field the records emit must be in the README's table."""
    from provcheck.report.records import match_record, result_record
    from tests.report_fixtures import constructed_match, match_result

    match = constructed_match()
    json_section = README[README.index("## JSON output") : README.index("## Export format")]
    for key in [*match_record(match, None), *result_record(match_result(match), None)]:
        assert f"`{key}`" in json_section, f"README's JSON table does not document {key!r}"
