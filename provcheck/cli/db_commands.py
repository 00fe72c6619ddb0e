"""``provcheck db ...``: build, inspect and exchange reference databases."""

from __future__ import annotations

import functools
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from provcheck.cli import (
    EXIT_USAGE,
    _open_output,
    cli,
    db_option,
    jobs_option,
)
from provcheck.errors import UsageError

if TYPE_CHECKING:  # types only: the modules themselves load lazily, inside the commands
    from provcheck.ingest import VideoAddReport
    from provcheck.sampling import SamplingPolicy
    from provcheck.store import SourceInfo, Store


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
    """--label, --category, --url, --first-seen, --license and --note, handed to the command as
    one ``source`` (a SourceInfo, or None when --label is optional and not given)."""

    def decorate(fn: Any) -> Any:
        @functools.wraps(fn)
        def with_source(
            *args: Any,
            label: str | None,
            category: str,
            url: str | None,
            first_seen: str | None,
            license_: str | None,
            note: str | None,
            **kwargs: Any,
        ) -> Any:
            from provcheck.store import SourceInfo

            source = SourceInfo(label, category, url, first_seen, license_, note) if label else None
            return fn(*args, source=source, **kwargs)

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
            with_source = option(with_source)
        return with_source

    return decorate


@db.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@_source_options(required=True)
@db_option
@jobs_option
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
    source: SourceInfo,
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
    from provcheck.store import open_store
    from provcheck.targets import walk_folder
    from provcheck.video import is_video_path

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
                source,
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
        f"{verb} source {report.source_id} {source.label!r}: {report.added} added,"
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
@db_option
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
@db_option
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
@db_option
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
@db_option
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
@db_option
def db_import(
    file: Path,
    source: SourceInfo | None,
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
    from provcheck.store import open_store

    target = write_database(dbs)
    with open_store(target, create=True) as store:
        report = import_file(store, file, default_source=source)
    click.echo(
        f"imported {file} ({report.format}): {report.items_added} items added,"
        f" {report.items_present} already present, {report.sources_created} new sources"
        f" ({target})"
    )
