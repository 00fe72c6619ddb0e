"""``provcheck db ...``: inspect and exchange reference databases (``db add`` is in ``db_add``)."""

from __future__ import annotations

import functools
import json
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from provcheck.cli.group import cli, say
from provcheck.cli.options import db_option, open_output
from provcheck.errors import UsageError

if TYPE_CHECKING:  # types only: the modules themselves load lazily, inside the commands
    from provcheck.store import SourceInfo


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


def source_options(required: bool) -> Any:
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

            source = (
                SourceInfo(label, category, url, first_seen, license_, note).check_new()
                if label
                else None
            )
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
    from provcheck.services.databases import open_for_search, search_databases

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
        say(f"# {block['database']} ({block['role']})")
        for row in block["rows"]:
            if items_of is None:
                say(
                    f"{row['id']:>5}  {row['label']}  [{row['category']}]"
                    f"  {row['items']} items  first seen {row['first_seen'] or '?'}"
                    f"  {row['url'] or ''}".rstrip()
                )
            else:
                at = f"  @{row['frame_time']:.2f}s" if row["frame_time"] is not None else ""
                say(f"{row['id']:>7}  {row['origin']}{at}")


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
    from provcheck.services.databases import default_db_path, open_for_search, search_databases

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
        say(f"{s['role']:>8}  {s['path']}")
        say(
            f"          {s['sources']} sources, {s['items']}"
            f" items ({s['video_frames']} video frames), hashes: {hashes},"
            f" {int(s['bytes']) / 1e6:.2f} MB"  # type: ignore[call-overload]
        )
    if all(r.role == "bundled" for r in refs):
        say(f"    user  {default_db_path()} (not created yet)")


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
    from provcheck.services.databases import write_database
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
    from provcheck.services.databases import write_database
    from provcheck.services.exchange import export_lines
    from provcheck.store import open_store

    with open_store(write_database(dbs), readonly=True) as store, ExitStack() as stack:
        out = open_output(stack, output)
        for line in export_lines(store, thumbnails=thumbnails):
            out.write(line + "\n")


@db.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@source_options(required=False)
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
    from provcheck.services.databases import write_database
    from provcheck.services.exchange import import_file
    from provcheck.store import open_store

    target = write_database(dbs)
    with open_store(target, create=True) as store:
        report = import_file(store, file, default_source=source)
    say(
        f"imported {file} ({report.format}): {report.items_added} items added,"
        f" {report.items_present} already present, {report.sources_created} new sources"
        f" ({target})"
    )
