"""``provcheck db export``, ``db import`` and ``db keygen``: sharing references as packs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from provcheck.cli.db_commands import db, source_options
from provcheck.cli.group import say
from provcheck.cli.options import db_option

if TYPE_CHECKING:  # types only: the modules themselves load lazily, inside the commands
    from provcheck.services.packs.importing import ImportReport
    from provcheck.store import SourceInfo

_EXPORT_FORMATS = ("jsonl", "pdq", "threatexchange", "vpdq")


@db.command("export")
@db_option
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="File to write (default: standard output); .gz or .zst compresses. A folder for vpdq.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(_EXPORT_FORMATS),
    default="jsonl",
    show_default=True,
    help="jsonl: the lossless provcheck pack; pdq: hash and label per line; threatexchange:"
    " 'pdq <hash>' lines; vpdq: one frame,quality,hash,timestamp file per video.",
)
@click.option(
    "--thumbnails",
    is_flag=True,
    help="Also export each item's small preview picture (base64). Off: an export shares no pixels.",
)
@click.option(
    "--sign-key",
    "sign_key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Ed25519 private key (db keygen): write a detached signature to OUTPUT.sig.",
)
@click.option("--name", "name", help="The pack's name, recorded by the desks that import it.")
def db_export(
    dbs: tuple[str, ...],
    output: Path | None,
    fmt: str,
    thumbnails: bool,
    sign_key: Path | None,
    name: str | None,
) -> None:
    """Export references without pixels: a lossless pack (every source, item, hash and keypoint
    set, as versioned JSON Lines) or a hash list other tools read.

    \b
    Examples:
      provcheck db export -o refs.jsonl.gz && provcheck db import refs.jsonl.gz --db copy.sqlite
      provcheck db export -o desk-pack.jsonl.zst --sign-key desk.key --name "Desk pack"
      provcheck db export --format threatexchange -o signals.txt
      provcheck db export --format vpdq -o vpdq/
    """
    from provcheck.services.databases import write_database
    from provcheck.services.packs.publish import export_pack
    from provcheck.store import open_store

    with open_store(write_database(dbs), readonly=True) as store:
        report = export_pack(
            store, output, fmt=fmt, thumbnails=thumbnails, sign_key=sign_key, name=name
        )
    if output is None:
        return
    if report.files:
        say(f"wrote {len(report.files)} vPDQ files to {output}", err=True)
        return
    say(f"wrote {output}: {report.bytes:,} bytes, sha256 {report.sha256}", err=True)
    if report.signature is not None:
        say(f"signed: {report.signature}", err=True)


@db.command("import")
@click.argument("pack", metavar="SOURCE")
@source_options(required=False)
@db_option
@click.option(
    "--sha256",
    "sha256",
    metavar="HEX",
    help="Refuse the pack unless its bytes have this SHA-256 (as its publisher announced).",
)
@click.option(
    "--verify-key",
    "verify_key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Trusted Ed25519 public key (KEY.pub): refuse the pack unless it is signed by it.",
)
@click.option(
    "--signature",
    "signature",
    metavar="FILE|URL",
    help="Where the signature is (default: SOURCE.sig; needed for standard input).",
)
@click.option(
    "--prune",
    is_flag=True,
    help="Remove the items of the pack's sources that this version of the pack no longer holds.",
)
@click.option(
    "--allow-private",
    is_flag=True,
    help="Allow a URL on loopback, private or link-local addresses (refused by default).",
)
def db_import(
    pack: str,
    source: SourceInfo | None,
    dbs: tuple[str, ...],
    sha256: str | None,
    verify_key: Path | None,
    signature: str | None,
    prune: bool,
    allow_private: bool,
) -> None:
    """Import a pack or a hash list from a file, '-' (standard input) or an http(s) URL.

    The format is told from the content: a provcheck pack (versions 1 and 2), a PDQ list (64 hex
    digits per line, optional label), a python-threatexchange file ('pdq <hash>' lines) or a vPDQ
    file (one video). gzip and zstd are read as they are. Lists name no provenance: give --label
    and --category. All or nothing: a malformed line, a wrong digest or a bad signature leaves
    the database unchanged.

    \b
    Examples:
      provcheck db import refs.jsonl
      curl -s https://example.org/pack.jsonl.gz | provcheck db import -
      provcheck db import https://example.org/pack.jsonl.zst --verify-key desk.key.pub
      provcheck db import shared-hashes.txt --label "Partner list 2026-10" --category footage
    """
    from provcheck.services.databases import write_database
    from provcheck.services.packs.importing import ImportOptions, import_pack
    from provcheck.store import open_store

    options = ImportOptions(
        default_source=source,
        sha256=sha256,
        verify_key=verify_key,
        signature=signature,
        allow_private=allow_private,
        prune=prune,
    )
    target = write_database(dbs)
    with open_store(target, create=True) as store:
        report = import_pack(store, pack, options)
    _echo_import(report, target)


def _echo_import(report: ImportReport, target: Path) -> None:
    say(
        f"imported {report.source} ({report.format}): {report.items_added} items added,"
        f" {report.items_present} already present, {report.sources_created} new sources"
        f" ({target})"
    )
    say(f"  sha256 {report.sha256}")
    if report.signer:
        say(f"  signed by {report.signer} at {report.signed_at} (verified)")
    for signal_type, count in sorted(report.skipped.items()):
        say(f"  skipped {count} '{signal_type}' lines (not picture hashes)")
    if report.pruned:
        say(f"  pruned {report.pruned} items that this version of the pack removed")
    elif report.removed:
        say(
            f"  {report.removed} items of these sources are no longer in the pack (removed by"
            " its publisher); --prune removes them"
        )


@db.command("keygen")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Private key file to write; the public key goes to OUTPUT.pub.",
)
def db_keygen(output: Path) -> None:
    """Make an Ed25519 key pair for signing packs (db export --sign-key).

    Keep the private key to yourself; hand the .pub file to the desks that import your packs
    (db import --verify-key).

    \b
    Example:
      provcheck db keygen --output ~/.config/provcheck/desk.key
    """
    from provcheck.services.packs.signing import generate_key_pair

    private, public = generate_key_pair(output)
    say(f"wrote {private} (private: keep it secret) and {public} (share it)")
