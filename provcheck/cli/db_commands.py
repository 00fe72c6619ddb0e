"""``provcheck db ...``: inspect reference databases (``db add`` is in ``db_add``; ``db export``,
``db import`` and ``db keygen`` in ``pack_commands``)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from provcheck.cli.group import cli
from provcheck.cli.options import db_option
from provcheck.errors import UsageError

if TYPE_CHECKING:  # types only: the modules themselves load lazily, inside the commands
    from provcheck.store import PackOrigin


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
                        "pack": _pack_record(s.pack),
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
                if row["pack"] is not None:
                    click.echo(_pack_line(row["pack"]))
            else:
                at = f"  @{row['frame_time']:.2f}s" if row["frame_time"] is not None else ""
                click.echo(f"{row['id']:>7}  {row['origin']}{at}")


def _pack_record(pack: PackOrigin | None) -> dict[str, Any] | None:
    """Where a source last came from as a pack (``db import``), for ``db list``."""
    if pack is None:
        return None
    return {
        "location": pack.location,
        "sha256": pack.sha256,
        "signer": pack.signer,
        "signed_at": pack.signed_at,
        "name": pack.name,
        "imported_at": pack.imported_at,
    }


def _pack_line(pack: dict[str, Any]) -> str:
    signed = (
        f"signed by {pack['signer']} at {pack['signed_at']}" if pack["signer"] else "not verified"
    )
    name = f"{pack['name']!r} " if pack["name"] else ""
    return (
        f"         pack {name}{pack['location']}  sha256 {pack['sha256']}  {signed},"
        f" imported {pack['imported_at']}"
    )


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
