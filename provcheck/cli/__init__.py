"""The ``provcheck`` command: parse options, call one service, render. No logic lives here.

One module per command group (``scan_command``, ``db_commands``, ``serve_command``); this one
holds the group, the option parsers they share, and the error-to-exit-code mapping.

Exit codes (README, "Exit codes"): 0 nothing flagged, 1 a match, 2 usage error or unreadable input
or database, 3 internal error. ``scan --fail-on`` narrows what fails a run.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import IO, Any

import click

from provcheck import __version__
from provcheck.errors import DatabaseError, FormatError, ProvcheckError, UsageError

EXIT_USAGE = 2
EXIT_INTERNAL = 3

_DB_HELP = (
    "Database file (repeatable for scans). Default: PROVCHECK_DB, else the bundled pack"
    " plus your own database for scans, and your own database for changes."
)


class _Group(click.Group):
    """Turns provcheck's own errors into one-line messages and the documented exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (UsageError, DatabaseError, FormatError) as exc:
            click.echo(f"provcheck: error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)
        except ProvcheckError as exc:
            click.echo(f"provcheck: error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            click.echo("provcheck: interrupted", err=True)
            ctx.exit(130)


def _parse_date(_ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date as YYYY-MM-DD, got {value!r}") from None


def _parse_distances(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, int]:
    from provcheck.fingerprint import get_hasher

    out: dict[str, int] = {}
    for value in values:
        kind, sep, number = value.partition("=")
        if not sep or not number.strip().isdigit():
            raise click.BadParameter(f"expected KIND=N (e.g. pdq=31), got {value!r}")
        try:
            hasher = get_hasher(kind.strip())
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        n = int(number)
        if n > hasher.bits // 2:
            raise click.BadParameter(
                f"{kind}={n} would match unrelated images ({hasher.bits}-bit hash; keep it"
                f" below {hasher.bits // 2})"
            )
        out[hasher.name] = n
    return out


def _positive(_ctx: click.Context, _param: click.Parameter, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise click.BadParameter("must be at least 1")
    return value


def _open_output(stack: ExitStack, output: Path | None) -> IO[str]:
    if output is None:
        return sys.stdout
    try:
        return stack.enter_context(output.open("w", encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{output}: cannot write the report ({exc.strerror or exc})") from None


# Options more than one command takes, declared once so their names, checks and help agree.
db_option = click.option(
    "--db", "dbs", multiple=True, type=click.Path(path_type=Path), help=_DB_HELP
)
jobs_option = click.option(
    "--jobs",
    "-j",
    type=int,
    callback=_positive,
    help="Worker processes for hashing. Default: all cores.",
)
max_distance_option = click.option(
    "--max-distance",
    "max_distance",
    multiple=True,
    callback=_parse_distances,
    metavar="KIND=N",
    help="Override a hash kind's match threshold, e.g. pdq=31 phash=8 (repeatable).",
)
limit_option = click.option(
    "--limit",
    type=int,
    default=5,
    show_default=True,
    callback=_positive,
    help="Matches reported per input, best first.",
)


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
        click.echo(f"provcheck: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_INTERNAL)


# The commands register themselves on ``cli``; imported last, as they import it from here.
from provcheck.cli import db_commands, scan_command, serve_command  # noqa: E402, F401
