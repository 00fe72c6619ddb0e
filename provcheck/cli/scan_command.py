"""``provcheck scan``: check inputs against the references."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from provcheck.cli.group import cli, say
from provcheck.cli.options import (
    c2pa_trust_option,
    db_option,
    jobs_option,
    limit_option,
    max_distance_option,
    open_output,
    parse_date_option,
    positive,
)

if TYPE_CHECKING:
    from provcheck.signals.c2pa import TrustList


@cli.command()
@click.argument("targets", nargs=-1, required=True)
@db_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "jsonl", "html", "csv", "sarif"]),
    default="text",
    show_default=True,
    help="Output format (JSON schema in the README; html, csv and sarif in docs/reports.md).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the report to this file instead of standard output.",
)
@click.option(
    "--include",
    multiple=True,
    metavar="GLOB",
    help="In folders, scan only files matching GLOB (repeatable).",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="In folders, skip files matching GLOB (repeatable).",
)
@jobs_option
@click.option(
    "--fail-on",
    type=click.Choice(["any", "match", "error", "never"]),
    default="any",
    show_default=True,
    help="What makes the exit status non-zero: any (match 1, error 2), only matches,"
    " only errors, or never.",
)
@click.option(
    "--claimed-date",
    callback=parse_date_option,
    metavar="YYYY-MM-DD",
    help="Date the picture is claimed to show; matches say if their source is older.",
)
@max_distance_option
@limit_option
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on standard error. Default: on for terminals with text output.",
)
@click.option("--verbose", "-v", is_flag=True, help="Text output lists every match, not the best.")
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="Text output shows only matches and unreadable inputs (with their metadata flags): no"
    " clean or insufficient inputs, no summary, no progress bar. The exit status is unchanged.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Settings file (provcheck.toml or a pyproject.toml with [tool.provcheck])."
    " Default: the nearest one above the working directory. Options given here win.",
)
@click.option("--no-config", is_flag=True, help="Ignore any provcheck.toml / [tool.provcheck].")
@click.option(
    "--allow-private",
    is_flag=True,
    help="Let URLs (and their redirects and page images) reach loopback, private and"
    " link-local addresses.",
)
@click.option(
    "--keypoints/--no-keypoints",
    default=True,
    show_default=True,
    help="Look for partial copies (crops, screenshots, captions) with local keypoints."
    " --no-keypoints matches whole-picture hashes only: several times faster, misses crops.",
)
@click.option(
    "--page-images",
    type=int,
    default=20,
    show_default=True,
    callback=positive,
    help="For a web page URL, scan at most this many of its images (og:image first).",
)
@click.option(
    "--fetch-timeout",
    type=click.FloatRange(min=1, max=3600),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Time one URL may take in all (redirects, headers, body), however slowly it answers.",
)
@c2pa_trust_option
def scan(
    targets: tuple[str, ...],
    dbs: tuple[str, ...],
    fmt: str,
    output: Path | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    jobs: int | None,
    fail_on: str,
    claimed_date: date | None,
    max_distance: dict[str, int],
    limit: int,
    progress: bool | None,
    verbose: bool,
    quiet: bool,
    config_file: Path | None,
    no_config: bool,
    allow_private: bool,
    keypoints: bool,
    page_images: int,
    fetch_timeout: float,
    c2pa_trust: TrustList | None,
) -> None:
    """Check images (files, folders, URLs, or - for standard input) against the references.

    Each input gets a status: match, clean, insufficient (too little detail to decide) or error.
    A URL of a web page (a post, an article) scans the images the page declares.

    \b
    Examples:
      provcheck scan photo.jpg
      provcheck scan uploads/ --include '*.jpg' --format json -o report.json
      provcheck scan https://example.org/strike.jpg --claimed-date 2024-03-01
      provcheck scan https://news.example/posts/1234 --format json
      cat photo.png | provcheck scan -

    A scan that finds nothing to scan (an empty folder, every file filtered out) says so on
    standard error and exits 0: nothing was flagged.
    """
    from provcheck.cli.config import merge_scan_options, resolve_config
    from provcheck.cli.progress import ProgressBar
    from provcheck.media.targets import expand_targets
    from provcheck.report import PICTURE_FORMATS, make_renderer
    from provcheck.report.html import thumbnails_from
    from provcheck.report.previews import missing_preview_reasons
    from provcheck.report.style import colour_wanted
    from provcheck.report.summary import ScanSummary, exit_code
    from provcheck.services.databases import open_references
    from provcheck.services.scan import ScanOptions, scan_targets
    from provcheck.services.workers import default_jobs

    started = time.perf_counter()
    ctx = click.get_current_context()
    settings = merge_scan_options(
        resolve_config(config_file, disabled=no_config, cwd=Path.cwd()),
        {
            "dbs": dbs,
            "fmt": fmt,
            "include": include,
            "exclude": exclude,
            "fail_on": fail_on,
            "limit": limit,
            "max_distance": max_distance,
        },
        [n for n in ctx.params if ctx.get_parameter_source(n) == ParameterSource.COMMANDLINE],
    )
    dbs, fmt, include, exclude = (settings[k] for k in ("dbs", "fmt", "include", "exclude"))
    fail_on, limit, max_distance = settings["fail_on"], settings["limit"], settings["max_distance"]
    with ExitStack() as stack:
        references = stack.enter_context(open_references(dbs, max_distance))
        summary = ScanSummary(databases=references.databases, claimed_date=claimed_date)
        matcher = references.matcher
        expanded = expand_targets(targets, include, exclude)
        if not expanded:
            say(f"provcheck: warning: {nothing_to_scan(targets, include, exclude)}", err=True)
        out = open_output(stack, output)
        renderer = make_renderer(
            fmt,
            out,
            claimed_date,
            verbose=verbose,
            reference_thumbnails=thumbnails_from(references.stores),
            quiet=quiet,
            colour=colour_wanted(out),
            missing_reason=missing_preview_reasons(references.stores),
        )
        show_bar = (
            progress
            if progress is not None
            else (fmt == "text" and not quiet and sys.stderr.isatty() and len(expanded) > 1)
        )
        options = ScanOptions(
            limit=limit,
            jobs=jobs or default_jobs(),
            claimed_date=claimed_date,
            thumbnails=fmt in PICTURE_FORMATS,
            allow_private=allow_private,
            page_images=page_images,
            keypoints=keypoints,
            fetch_timeout=fetch_timeout,
            c2pa_trust=c2pa_trust,
        )
        bar = stack.enter_context(
            ProgressBar(sys.stderr, len(expanded), "scanning", enabled=show_bar)
        )

        def on_result(result: Any) -> None:
            summary.count(result)
            with bar.above(out):  # results on a terminal must not be glued to the bar
                renderer.result(result)
                bar.advance()

        scan_targets(expanded, matcher, options, on_result)
        summary.elapsed_s = time.perf_counter() - started
        summary.exit_code = exit_code(summary.counts, fail_on)
        bar.close()
        renderer.finish(summary)
    sys.exit(summary.exit_code)


def nothing_to_scan(targets: Sequence[str], include: Sequence[str], exclude: Sequence[str]) -> str:
    """Why a scan has no inputs (only folders can give none: a file, URL or ``-`` is always one
    input, a missing path an error): what the folders were searched for."""
    from provcheck.media.targets import MEDIA_EXTENSIONS

    folders = ", ".join(targets)
    if include or exclude:
        rules = [
            f"--{name} {' '.join(globs)}"
            for name, globs in (("include", include), ("exclude", exclude))
            if globs
        ]
        return f"nothing to scan: no file in {folders} passes {' and '.join(rules)}"
    extensions = " ".join(sorted(MEDIA_EXTENSIONS))
    return (
        f"nothing to scan: {folders} holds no picture or video files ({extensions};"
        " hidden files are skipped; --include GLOB scans other names)"
    )
