"""Docs that cannot drift: every command and scan option is in the README."""

from __future__ import annotations

from pathlib import Path

import click

from provcheck.cli import cli

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


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


def test_readme_gives_the_two_commands():
    assert "pip install -e '.[test]'" in README
    assert "pytest" in README


def test_every_json_field_is_documented():
    """Users script against the JSON: a field the records emit must be in the README's table."""
    from provcheck.report.records import match_record, result_record
    from tests.report_fixtures import constructed_match, match_result

    match = constructed_match()
    json_section = README[README.index("## JSON output") : README.index("## Export format")]
    for key in [*match_record(match, None), *result_record(match_result(match), None)]:
        assert f"`{key}`" in json_section, f"README's JSON table does not document {key!r}"
