"""The ``provcheck`` click group and the one place where provcheck's errors become the documented
exit codes (README, "Exit codes"): 0 nothing flagged, 1 a match, 2 usage error or unreadable input
or database, 3 internal error. ``scan --fail-on`` narrows what fails a run.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from provcheck import __version__
from provcheck.errors import DatabaseError, FormatError, ProvcheckError, UsageError

EXIT_USAGE = 2
EXIT_INTERNAL = 3


def say(text: object, *, err: bool = False) -> None:
    """Print one line that may hold outside text (a file name, a label, a server's message): it
    stays one line and cannot act on the terminal (``report.terminal``)."""
    from provcheck.report.terminal import for_terminal  # lazily: --help loads no report code

    click.echo(for_terminal(text), err=err)


class _Group(click.Group):
    """Turns provcheck's own errors into one-line messages and the documented exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (UsageError, DatabaseError, FormatError) as exc:
            say(f"provcheck: error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)
        except ProvcheckError as exc:
            say(f"provcheck: error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            click.echo("provcheck: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="provcheck")
def cli() -> None:
    """Flag images that are recycled game captures or archived footage.

    \b
    Examples:
      provcheck scan photo.jpg
      provcheck scan posts/ --format json --output report.json
      provcheck db add captures/ --label "AC-130 Gunship Simulator" --category game
    """


def main() -> None:
    try:
        cli(prog_name="provcheck")
    except SystemExit:
        raise
    except Exception as exc:
        say(f"provcheck: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_INTERNAL)
