"""The ``provcheck`` command: parse options, call one service, render. No logic lives here.

Exit codes (README, "Exit codes"): 0 nothing flagged, 1 a match, 2 usage error or unreadable input
or database, 3 internal error. ``scan --fail-on`` narrows what fails a run.
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from provcheck import __version__
from provcheck.errors import DatabaseError, FormatError, ProvcheckError, UsageError

if TYPE_CHECKING:  # types only: the modules themselves load lazily, inside the commands
    from provcheck.ingest import VideoAddReport
    from provcheck.sampling import SamplingPolicy
    from provcheck.store import Store

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


# -- scan ----------------------------------------------------------------------------------------


@cli.command()
@click.argument("targets", nargs=-1, required=True)
@click.option("--db", "dbs", multiple=True, type=click.Path(path_type=Path), help=_DB_HELP)
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
@click.option(
    "--jobs",
    "-j",
    type=int,
    callback=_positive,
    help="Worker processes for hashing. Default: all cores.",
)
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
    callback=_parse_date,
    metavar="YYYY-MM-DD",
    help="Date the picture is claimed to show; matches say if their source is older.",
)
@click.option(
    "--max-distance",
    "max_distance",
    multiple=True,
    callback=_parse_distances,
    metavar="KIND=N",
    help="Override a hash kind's match threshold, e.g. pdq=31 phash=8 (repeatable).",
)
@click.option(
    "--limit",
    type=int,
    default=5,
    show_default=True,
    callback=_positive,
    help="Matches reported per input, best first.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on standard error. Default: on for terminals with text output.",
)
@click.option("--verbose", "-v", is_flag=True, help="Text output lists every match, not the best.")
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
    callback=_positive,
    help="For a web page URL, scan at most this many of its images (og:image first).",
)
def scan(
    targets: tuple[str, ...],
    dbs: tuple[Path, ...],
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
    config_file: Path | None,
    no_config: bool,
    allow_private: bool,
    keypoints: bool,
    page_images: int,
) -> None:
    """Check images (files, folders, URLs, or - for standard input) against the references.

    Each input gets a status: match, clean, insufficient (too flat to hash) or error.
    A URL of a web page (a post, an article) scans the images the page declares.

    \b
    Examples:
      provcheck scan photo.jpg
      provcheck scan uploads/ --include '*.jpg' --format json -o report.json
      provcheck scan https://example.org/strike.jpg --claimed-date 2024-03-01
      provcheck scan https://news.example/posts/1234 --format json
      cat photo.png | provcheck scan -
    """
    from provcheck.config import merge_scan_options, resolve_config
    from provcheck.references import open_references
    from provcheck.report import PICTURE_FORMATS, make_renderer
    from provcheck.report.html import thumbnails_from
    from provcheck.report.records import ScanSummary
    from provcheck.scan import ScanOptions, default_jobs, exit_code, scan_targets
    from provcheck.targets import expand_targets

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
        out = _open_output(stack, output)
        renderer = make_renderer(
            fmt,
            out,
            claimed_date,
            verbose=verbose,
            reference_thumbnails=thumbnails_from(references.stores),
        )
        show_bar = (
            progress
            if progress is not None
            else (fmt == "text" and sys.stderr.isatty() and len(expanded) > 1)
        )
        options = ScanOptions(
            limit=limit,
            jobs=jobs or default_jobs(),
            claimed_date=claimed_date,
            thumbnails=fmt in PICTURE_FORMATS,
            allow_private=allow_private,
            page_images=page_images,
            keypoints=keypoints,
        )
        bar = (
            stack.enter_context(
                click.progressbar(
                    length=len(expanded),
                    label="scanning",
                    file=sys.stderr,
                )
            )
            if show_bar
            else None
        )

        def on_result(result: Any) -> None:
            summary.count(result)
            renderer.result(result)
            if bar is not None:
                bar.update(1)

        scan_targets(expanded, matcher, options, on_result)
        summary.elapsed_s = time.perf_counter() - started
        summary.exit_code = exit_code(summary.counts, fail_on)
        renderer.finish(summary)
    sys.exit(summary.exit_code)


# -- db ------------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Build and inspect reference databases.

    \b
    Examples:
      provcheck db add captures/ --label "AC-130 Gunship Simulator" --category game \\
          --url https://store.example/ac130 --first-seen 2015-06-01
      provcheck db stats
      provcheck db export -o refs.jsonl
    """


def _source_options(required: bool) -> Any:
    def decorate(fn: Any) -> Any:
        options = [
            click.option(
                "--label",
                required=required,
                help="Name of the source (a game, a video, an archive).",
            ),
            click.option(
                "--category",
                type=click.Choice(["game", "footage", "other"]),
                required=required,
                default=None if required else "other",
                help="What the source is.",
            ),
            click.option("--url", help="Where the source can be seen (store, video, archive)."),
            click.option(
                "--first-seen",
                "first_seen",
                metavar="YYYY-MM-DD",
                help="When the source was first seen in public.",
            ),
            click.option("--license", "license_", help="License or terms of the material."),
            click.option("--note", "note", help="Free-text note kept with the source."),
        ]
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


@db.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@_source_options(required=True)
@click.option("--db", "dbs", multiple=True, type=click.Path(path_type=Path), help=_DB_HELP)
@click.option(
    "--jobs",
    "-j",
    type=int,
    callback=_positive,
    help="Worker processes for hashing. Default: all cores.",
)
@click.option(
    "--thumbnails/--no-thumbnails",
    default=True,
    show_default=True,
    help="Keep a small preview (<= 160 px, a few KB) of each item for HTML reports.",
)
@click.option(
    "--frame-every",
    "frame_every",
    type=click.FloatRange(min=0.1, max=3600),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="Videos: keep a frame at least this often (besides scene changes), unless it repeats"
    " the last one.",
)
def db_add(
    paths: tuple[Path, ...],
    label: str,
    category: str,
    url: str | None,
    first_seen: str | None,
    license_: str | None,
    note: str | None,
    dbs: tuple[Path, ...],
    jobs: int | None,
    thumbnails: bool,
    frame_every: float,
) -> None:
    """Add images and videos (files or folders, recursively) as references of one source.

    A video (MP4, WebM, MKV, MOV, animated GIF/WebP) is sampled at scene changes and at least
    every --frame-every seconds; each kept frame is stored with its time (docs/video.md).
    Adding the same file to the same source again changes nothing.

    \b
    Example:
      provcheck db add captures/ac130/ --label "AC-130 Gunship Simulator" \\
          --category game --url https://store.example/ac130 --first-seen 2015-06-01
    """
    from provcheck.databases import write_database
    from provcheck.ingest import add_files
    from provcheck.sampling import SamplingPolicy
    from provcheck.scan import default_jobs
    from provcheck.store import SourceInfo, open_store
    from provcheck.targets import walk_folder
    from provcheck.video import is_video_path

    info = SourceInfo(label, category, url, first_seen, license_, note)
    files: list[Path] = []
    missing: list[str] = []
    for path in paths:
        if path.is_dir():
            files.extend(walk_folder(path))
        elif path.exists():
            files.append(path)
        else:
            missing.append(f"{path}: no such file or folder")
    for message in missing:
        click.echo(f"provcheck: error: {message}", err=True)
    is_video = {f: is_video_path(f) for f in files}
    videos = [f for f in files if is_video[f]]
    stills = [f for f in files if not is_video[f]]
    target = write_database(dbs)
    with open_store(target, create=True) as store:
        show_bar = sys.stderr.isatty() and len(stills) > 1
        with (
            click.progressbar(length=len(stills), label="adding", file=sys.stderr)
            if show_bar
            else _NullBar() as bar
        ):

            def on_item(_path: Path, error: str | None) -> None:
                if error:
                    click.echo(
                        f"\nprovcheck: error: {error}"
                        if show_bar
                        else f"provcheck: error: {error}",
                        err=True,
                    )
                bar.update(1)

            report = add_files(
                store,
                info,
                stills,
                jobs=jobs or default_jobs(),
                on_item=on_item,
                thumbnails=thumbnails,
            )
        policy = SamplingPolicy(max_gap_s=frame_every)
        for video in videos:
            done = _add_one_video(store, report.source_id, video, policy, thumbnails)
            report.added += done.frames_added
            report.already_present += done.frames_present
            if done.error:
                report.errors.append(done.error)
    verb = "created" if report.source_created else "updated"
    click.echo(
        f"{verb} source {report.source_id} {label!r}: {report.added} added,"
        f" {report.already_present} already present,"
        f" {len(report.errors) + len(missing)} failed ({target})"
    )
    if report.errors or missing:
        sys.exit(EXIT_USAGE)


def _add_one_video(
    store: Store, source_id: int, path: Path, policy: SamplingPolicy, thumbnails: bool
) -> VideoAddReport:
    """Add one video with a progress bar on terminals (decoding is the slow part), then say
    what was stored."""
    from provcheck.ingest import add_video

    show_bar = sys.stderr.isatty()
    with (
        click.progressbar(length=1000, label=path.name, file=sys.stderr)
        if show_bar
        else _NullBar() as bar
    ):
        last = [0]

        def on_progress(done_s: float, total_s: float) -> None:
            if total_s > 0:
                step = min(1000, int(1000 * done_s / total_s))
                if step > last[0]:
                    bar.update(step - last[0])
                    last[0] = step

        done = add_video(
            store,
            source_id,
            path,
            origin=str(path.resolve()),
            policy=policy,
            on_progress=on_progress,
            thumbnails=thumbnails,
        )
        bar.update(1000 - last[0])  # the last frame starts before the end: close the bar at 100 %
    if done.error:
        click.echo(f"provcheck: error: {done.error}", err=True)
    else:
        for warning in done.warnings:
            click.echo(f"provcheck: warning: {path}: {warning}", err=True)
        click.echo(
            f"{path}: {done.frames_added} frames added, {done.frames_present} already present"
            f" ({done.duration:.1f} s, {done.frames_decoded} frames decoded)",
            err=True,
        )
    return done


class _NullBar:
    def __enter__(self) -> _NullBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, _n: int) -> None:
        return None


@db.command("list")
@click.option("--db", "dbs", multiple=True, type=click.Path(path_type=Path), help=_DB_HELP)
@click.option(
    "--items",
    "items_of",
    type=int,
    metavar="SOURCE_ID",
    help="List the items of this source instead of the sources.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def db_list(dbs: tuple[Path, ...], items_of: int | None, fmt: str) -> None:
    """List sources (with item counts and provenance), or the items of one source.

    \b
    Examples:
      provcheck db list
      provcheck db list --items 3 --db refs.sqlite
    """
    from provcheck.databases import open_for_search, search_databases

    refs = search_databases(dbs)
    stores = open_for_search(refs)
    try:
        listing: list[dict[str, Any]] = []
        for store, ref in zip(stores, refs, strict=True):
            if items_of is None:
                rows: list[dict[str, Any]] = [
                    {
                        "id": s.id,
                        "label": s.info.label,
                        "category": s.info.category,
                        "url": s.info.url,
                        "first_seen": s.info.first_seen,
                        "license": s.info.license,
                        "notes": s.info.notes,
                        "items": s.item_count,
                    }
                    for s in store.sources()
                ]
            else:
                rows = [
                    {
                        "id": i.id,
                        "origin": i.origin,
                        "sha256": i.sha256,
                        "width": i.width,
                        "height": i.height,
                        "frame_time": i.frame_time,
                    }
                    for i in store.items(source_id=items_of)
                ]
            listing.append({"database": str(ref.path), "role": ref.role, "rows": rows})
    finally:
        for store in stores:
            store.close()
    if fmt == "json":
        click.echo(json.dumps(listing, indent=2, ensure_ascii=False))
        return
    for block in listing:
        click.echo(f"# {block['database']} ({block['role']})")
        for row in block["rows"]:
            if items_of is None:
                click.echo(
                    f"{row['id']:>5}  {row['label']}  [{row['category']}]"
                    f"  {row['items']} items  first seen {row['first_seen'] or '?'}"
                    f"  {row['url'] or ''}".rstrip()
                )
            else:
                at = f"  @{row['frame_time']:.2f}s" if row["frame_time"] is not None else ""
                click.echo(f"{row['id']:>7}  {row['origin']}{at}")


@db.command("stats")
@click.option("--db", "dbs", multiple=True, type=click.Path(path_type=Path), help=_DB_HELP)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def db_stats(dbs: tuple[Path, ...], fmt: str) -> None:
    """Show what each searched database holds (the bundled pack and your own by default).

    \b
    Example:
      provcheck db stats --format json
    """
    from provcheck.databases import default_db_path, open_for_search, search_databases

    refs = search_databases(dbs)
    stores = open_for_search(refs)
    try:
        stats = [
            {"role": ref.role, **store.stats()} for store, ref in zip(stores, refs, strict=True)
        ]
    finally:
        for store in stores:
            store.close()
    if fmt == "json":
        click.echo(json.dumps(stats, indent=2))
        return
    if not stats:
        click.echo("no databases")
    for s in stats:
        kinds: dict[str, int] = s["hashes"]  # type: ignore[assignment]
        hashes = ", ".join(f"{k} {v}" for k, v in kinds.items()) or "none"
        click.echo(
            f"{s['role']:>8}  {s['path']}\n          {s['sources']} sources, {s['items']}"
            f" items ({s['video_frames']} video frames), hashes: {hashes},"
            f" {int(s['bytes']) / 1e6:.2f} MB"
        )  # type: ignore[call-overload]
    if all(r.role == "bundled" for r in refs):
        click.echo(f"    user  {default_db_path()} (not created yet)")


@db.command("remove")
@click.option("--source", "source", metavar="ID|LABEL", help="Remove a source and all its items.")
@click.option("--item", "item", type=int, metavar="ID", help="Remove one item.")
@click.option("--db", "dbs", multiple=True, type=click.Path(path_type=Path), help=_DB_HELP)
def db_remove(source: str | None, item: int | None, dbs: tuple[Path, ...]) -> None:
    """Remove a source (with its items) or a single item.

    \b
    Examples:
      provcheck db remove --source "AC-130 Gunship Simulator"
      provcheck db remove --item 1234
    """
    from provcheck.databases import write_database
    from provcheck.store import open_store

    if (source is None) == (item is None):
        raise UsageError("give exactly one of --source or --item")
    with open_store(write_database(dbs)) as store:
        if item is not None:
            store.remove_item(item)
            click.echo(f"removed item {item}")
            return
        assert source is not None
        found = store.find_source(source)
        source_id = found.id if found else int(source) if source.isdigit() else None
        if source_id is None:
            raise UsageError(f"no source labelled {source!r} in {store.path}")
        n = store.remove_source(source_id)
        click.echo(f"removed source {source_id} and its {n} items")


@db.command("export")
@click.option("--db", "dbs", multiple=True, type=click.Path(path_type=Path), help=_DB_HELP)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File to write (default: standard output).",
)
@click.option(
    "--thumbnails",
    is_flag=True,
    help="Also export each item's small preview picture (base64). Off: an export shares no pixels.",
)
def db_export(dbs: tuple[Path, ...], output: Path | None, thumbnails: bool) -> None:
    """Export hashes and provenance (no pixels unless --thumbnails) as versioned JSON Lines.

    \b
    Example:
      provcheck db export -o refs.jsonl && provcheck db import refs.jsonl --db copy.sqlite
    """
    from provcheck.databases import write_database
    from provcheck.exchange import export_lines
    from provcheck.store import open_store

    with open_store(write_database(dbs), readonly=True) as store, ExitStack() as stack:
        out = _open_output(stack, output)
        for line in export_lines(store, thumbnails=thumbnails):
            out.write(line + "\n")


@db.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@_source_options(required=False)
@click.option("--db", "dbs", multiple=True, type=click.Path(path_type=Path), help=_DB_HELP)
def db_import(
    file: Path,
    label: str | None,
    category: str,
    url: str | None,
    first_seen: str | None,
    license_: str | None,
    note: str | None,
    dbs: tuple[Path, ...],
) -> None:
    """Import an export file, or a plain PDQ list (64 hex digits per line, optional label).

    A PDQ list's lines go to the source named on the line, else to --label. All or nothing:
    a malformed line leaves the database unchanged.

    \b
    Examples:
      provcheck db import refs.jsonl
      provcheck db import shared-hashes.txt --label "Partner list 2026-10" --category footage
    """
    from provcheck.databases import write_database
    from provcheck.exchange import import_file
    from provcheck.store import SourceInfo, open_store

    default = SourceInfo(label, category, url, first_seen, license_, note) if label else None
    target = write_database(dbs)
    with open_store(target, create=True) as store:
        report = import_file(store, file, default_source=default)
    click.echo(
        f"imported {file} ({report.format}): {report.items_added} items added,"
        f" {report.items_present} already present, {report.sources_created} new sources"
        f" ({target})"
    )


# -- serve ---------------------------------------------------------------------------------------


@cli.command()
@click.option("--db", "dbs", multiple=True, type=click.Path(path_type=Path), help=_DB_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port to listen on.")
@click.option(
    "--token",
    envvar="PROVCHECK_TOKEN",
    help="Require 'Authorization: Bearer TOKEN' on every route but /v1/health."
    " Default: PROVCHECK_TOKEN; none means open.",
)
@click.option(
    "--workers",
    type=int,
    callback=_positive,
    help="Hashing processes. Default: all cores.",
)
@click.option(
    "--max-upload-mb",
    type=float,
    default=25.0,
    show_default=True,
    help="Largest request body accepted; larger ones get 413.",
)
@click.option(
    "--max-distance",
    "max_distance",
    multiple=True,
    callback=_parse_distances,
    metavar="KIND=N",
    help="Override a hash kind's match threshold, e.g. pdq=31 (repeatable).",
)
@click.option(
    "--limit",
    type=int,
    default=5,
    show_default=True,
    callback=_positive,
    help="Matches reported per input.",
)
@click.option(
    "--allow-private",
    is_flag=True,
    help='Let {"url": ...} scans reach loopback, private and link-local addresses.',
)
def serve(
    dbs: tuple[Path, ...],
    host: str,
    port: int,
    token: str | None,
    workers: int | None,
    max_upload_mb: float,
    max_distance: dict[str, int],
    limit: int,
    allow_private: bool,
) -> None:
    """Run the scan service over HTTP (needs the extra: pip install 'provcheck[serve]').

    POST /v1/scan takes a multipart upload (field "file") or JSON {"url": ...} and answers
    with the same JSON as "scan --format json"; GET /v1/health and GET /v1/stats.

    \b
    Example:
      provcheck serve --db refs.sqlite --port 8000 --token s3cret &
      curl -H 'Authorization: Bearer s3cret' -F file=@photo.jpg http://127.0.0.1:8000/v1/scan
    """
    try:
        from provcheck import server
    except ImportError as exc:
        raise UsageError(
            f"serve needs the 'serve' extra ({exc.name} is missing): pip install 'provcheck[serve]'"
        ) from None
    from provcheck.references import open_references
    from provcheck.scan import default_jobs

    if max_upload_mb <= 0:
        raise click.BadParameter("must be above 0", param_hint="--max-upload-mb")
    settings = server.ServeSettings(
        max_bytes=int(max_upload_mb * 1024 * 1024),
        token=token or None,
        workers=workers or default_jobs(),
        limit=limit,
        allow_private=allow_private,
    )
    with open_references(dbs, max_distance) as references:
        service = server.ScanService(references, settings)
        try:
            refs = sum(int(d["items"]) for d in references.databases)
            click.echo(
                f"provcheck serve: http://{host}:{port}/v1/ ({refs} references in"
                f" {len(references.databases)} databases, {settings.workers} hashing workers,"
                f" {'token required' if settings.token else 'no token'})",
                err=True,
            )
            if settings.token is None and host not in ("127.0.0.1", "::1", "localhost"):
                click.echo(
                    "provcheck serve: warning: listening beyond this machine without --token",
                    err=True,
                )
            server.run(service, host, port)
        finally:
            service.close()


def main() -> None:
    try:
        cli(prog_name="provcheck")
    except SystemExit:
        raise
    except Exception as exc:
        click.echo(f"provcheck: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_INTERNAL)
