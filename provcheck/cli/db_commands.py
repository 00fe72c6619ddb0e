"""``provcheck db ...``: inspect reference databases (``db add`` is in ``db_add``; ``db export``,
``db import`` and ``db keygen`` in ``pack_commands``)."""

from __future__ import annotations

import functools
import json
from datetime import date
from typing import TYPE_CHECKING, Any

import click

from provcheck.cli.group import cli, say
from provcheck.cli.options import db_option
from provcheck.errors import UsageError

if TYPE_CHECKING:  # types only: the modules themselves load lazily, inside the commands
    from provcheck.services.databases import DatabaseRef
    from provcheck.store import PackOrigin, Store


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


def _not_in_the_future(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> str | None:
    """A first sighting is in the past: a later date is a typo, and taken as given it would make
    every claim look older than the source ("first seen 300 days after the claimed date")."""
    if value is None:
        return None
    try:
        seen = date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date as YYYY-MM-DD, got {value!r}") from None
    if seen > date.today():
        raise click.BadParameter(
            f"{value} is in the future (today is {date.today().isoformat()}): a source is first"
            " seen on a date that has passed"
        )
    return value


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
                callback=_not_in_the_future,
                help="When the source was first seen in public (today or earlier).",
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
    help="List the items of this source instead of the sources. Ids are per database: when"
    " several are searched and more than one has this id, name one with --db.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def db_list(dbs: tuple[str, ...], items_of: int | None, fmt: str) -> None:
    """List sources (with item counts and provenance), or the items of one source.

    Each database is listed under a line naming it: an id belongs to the database it is listed
    under (the bundled pack and your own database both have a source 1).

    \b
    Examples:
      provcheck db list
      provcheck db list --items 3 --db refs.sqlite
    """
    from provcheck.services.databases import open_for_search, search_databases

    searched = search_databases(dbs)
    opened = open_for_search(searched)
    try:
        stores, refs = opened, searched
        if items_of is not None:
            stores, refs = _holding_source(opened, searched, items_of)
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
        for store in opened:
            store.close()
    if fmt == "json":
        click.echo(json.dumps(listing, indent=2, ensure_ascii=False))
        return
    for block in listing:
        what = "sources" if items_of is None else f"items of source {items_of}"
        say(f"# {what} in {block['database']} ({block['role']}; ids are this database's)")
        for row in block["rows"]:
            if items_of is None:
                say(
                    f"{row['id']:>5}  {row['label']}  [{row['category']}]"
                    f"  {row['items']} items  first seen {row['first_seen'] or '?'}"
                    f"  {row['url'] or ''}".rstrip()
                )
                if row["pack"] is not None:
                    say(_pack_line(row["pack"]))
            else:
                at = f"  @{row['frame_time']:.2f}s" if row["frame_time"] is not None else ""
                say(f"{row['id']:>7}  {row['origin']}{at}")


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


def _holding_source(
    stores: list[Store], refs: list[DatabaseRef], source_id: int
) -> tuple[list[Store], list[DatabaseRef]]:
    """The one searched database that has source ``source_id``. Ids are per database, so a source
    id found in several is refused rather than guessed (``--db`` names the one meant)."""
    holding = [
        (store, ref)
        for store, ref in zip(stores, refs, strict=True)
        if any(s.id == source_id for s in store.sources())
    ]
    if not holding:
        searched = ", ".join(str(ref.path) for ref in refs) or "no database"
        raise UsageError(f"no source {source_id} in {searched} (provcheck db list shows the ids)")
    if len(holding) > 1:
        where = "; ".join(f"{ref.role} {ref.path}" for _, ref in holding)
        raise UsageError(
            f"source {source_id} is in {len(holding)} databases ({where}): ids are per database;"
            " name the one you mean with --db PATH"
        )
    return [holding[0][0]], [holding[0][1]]


@db.command("stats")
@db_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def db_stats(dbs: tuple[str, ...], fmt: str) -> None:
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
def db_remove(source: str | None, item: int | None, dbs: tuple[str, ...]) -> None:
    """Remove a source (with its items) or a single item from the one database changes go to
    (--db, else PROVCHECK_DB, else your own; never the bundled pack). Ids are that database's, as
    `provcheck db list --db PATH` shows them. The line printed names what was removed.

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
            say(f"removed item {item} from {store.path}: {_remove_item(store, item)}")
            return
        assert source is not None
        found = store.find_source(source)
        if found is None and source.isdigit():
            found = next((s for s in store.sources() if s.id == int(source)), None)
        if found is None:
            raise UsageError(f"no source {source!r} (a label or an id) in {store.path}")
        n = store.remove_source(found.id)
        say(
            f"removed source {found.id} {found.info.label!r} ({found.info.category}) and its"
            f" {n} item{'s' if n != 1 else ''} from {store.path}"
        )


def _remove_item(store: Store, item_id: int) -> str:
    """Remove one item; what it was, in words: its source, origin and frame time."""
    from provcheck.report.records import format_frame_time

    found = store.items([item_id])
    if not found:
        raise UsageError(f"no item with id {item_id} in {store.path}")
    record = found[0]
    store.remove_item(item_id)
    text = f"{record.source.label!r} ({record.source.category}), origin {record.origin}"
    if record.frame_time is not None:
        text += f", frame at {format_frame_time(record.frame_time)}"
    return text


@db.command("init")
@db_option
def db_init(dbs: tuple[str, ...]) -> None:
    """Create an empty reference database, or bring an older one's schema up to date.

    Other commands create the database when they first write to it; a shared PostgreSQL store
    is initialised once by the role that owns it, so that curators and scanners need no right
    to change its schema (README: Team setup).

    \b
    Example:
      provcheck db init --db postgresql://provcheck_owner@db.newsroom.example/provcheck
    """
    from provcheck.services.databases import write_database
    from provcheck.store import open_store

    target = write_database(dbs)
    with open_store(target, create=True) as store:
        stats = store.stats()
    click.echo(
        f"{target}: provcheck reference database, schema {stats['schema_version']},"
        f" {stats['items']} items in {stats['sources']} sources"
    )
