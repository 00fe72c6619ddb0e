"""Options and parsers more than one command takes, declared once so their names, checks and help
agree."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from provcheck.errors import UsageError

if TYPE_CHECKING:
    from provcheck.signals.c2pa import TrustList

_DB_HELP = (
    "Database file (repeatable for scans). Default: PROVCHECK_DB, else the bundled pack"
    " plus your own database for scans, and your own database for changes."
)


def parse_date_option(
    _ctx: click.Context, param: click.Parameter, value: str | None
) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date as YYYY-MM-DD, got {value!r}") from None


def parse_distances(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, int]:
    from provcheck.signals.hashes import get_hasher

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


def parse_trust_list(
    _ctx: click.Context, _param: click.Parameter, value: Path | None
) -> TrustList | None:
    """Load ``--c2pa-trust`` once, in the main process: a bad file is a usage error naming it."""
    if value is None:
        return None
    from provcheck.signals.c2pa import load_trust_list

    try:
        return load_trust_list(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def positive(_ctx: click.Context, _param: click.Parameter, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise click.BadParameter("must be at least 1")
    return value


def open_output(stack: ExitStack, output: Path | None) -> IO[str]:
    if output is None:
        return sys.stdout
    try:
        return stack.enter_context(output.open("w", encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{output}: cannot write the report ({exc.strerror or exc})") from None


db_option = click.option(
    "--db", "dbs", multiple=True, type=click.Path(path_type=Path), help=_DB_HELP
)
jobs_option = click.option(
    "--jobs",
    "-j",
    type=int,
    callback=positive,
    help="Worker processes for hashing. Default: all cores.",
)
max_distance_option = click.option(
    "--max-distance",
    "max_distance",
    multiple=True,
    callback=parse_distances,
    metavar="KIND=N",
    help="Override a hash kind's match threshold, e.g. pdq=31 phash=8 (repeatable).",
)
limit_option = click.option(
    "--limit",
    type=int,
    default=5,
    show_default=True,
    callback=positive,
    help="Matches reported per input, best first.",
)
c2pa_trust_option = click.option(
    "--c2pa-trust",
    "c2pa_trust",
    type=click.Path(path_type=Path, dir_okay=False),
    callback=parse_trust_list,
    metavar="FILE",
    help="PEM certificates whose C2PA signers count as trusted (needs provcheck[c2pa])."
    " Without it a valid signature reads 'valid', never 'trusted'. Checked offline.",
)
