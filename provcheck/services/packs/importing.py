"""``db import``: read a pack or hash list from a file, standard input or a URL into one
database, all or nothing, after checking it is the pack its publisher made.

The input is read once, front to back, and stored in chunks through ``Store.add_items_bulk`` in a
single transaction; its SHA-256 is computed on the way. Only when the last byte is read are the
digest (``--sha256``) and the signature (``--verify-key``) checked: a pack that fails either is
rolled back whole, so a refused pack changes nothing. A newer version of a pack adds what is new,
and reports the items of its sources it no longer holds (removed by its publisher); ``prune``
removes them in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any

from provcheck.errors import FormatError, UsageError
from provcheck.services.packs import signing
from provcheck.services.packs.formats import EXPORT, ReadFacts, detect_format, read_records
from provcheck.services.packs.records import PackItem, PackSource
from provcheck.services.packs.streams import open_pack, read_small
from provcheck.store import NewItem, PackOrigin, SourceInfo, Store


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """How to import: the source for lists that name none, and the checks the pack must pass."""

    default_source: SourceInfo | None = None
    #: The SHA-256 (hex) the publisher announced; any other bytes are refused.
    sha256: str | None = None
    #: A trusted Ed25519 public key: the pack must carry a valid signature by it.
    verify_key: Path | None = None
    #: Where that signature is; default: the source with ``.sig`` appended (URLs too).
    signature: str | None = None
    allow_private: bool = False
    #: Remove the items of the pack's sources that the pack no longer holds.
    prune: bool = False


@dataclass(slots=True)
class ImportReport:
    source: str = ""
    format: str = ""
    sources_created: int = 0
    items_added: int = 0
    items_present: int = 0
    #: Items of the pack's sources that the pack does not hold (removed by its publisher).
    removed: int = 0
    #: How many of those ``prune`` deleted.
    pruned: int = 0
    #: Lines of signal types provcheck does not read (python-threatexchange files), by type.
    skipped: dict[str, int] = field(default_factory=dict)
    sha256: str = ""
    signer: str | None = None
    signed_at: str | None = None
    name: str | None = None


def import_pack(store: Store, source: str, options: ImportOptions | None = None) -> ImportReport:
    """Import ``source`` (a path, ``-`` for standard input, or an http(s) URL) into ``store``."""
    options = options or ImportOptions()
    expected = _expected_digest(options.sha256)
    signature = _signature_bytes(source, options)
    with open_pack(source, allow_private=options.allow_private) as pack:
        head, first = _first_meaningful(pack.lines, pack.name)
        try:
            kind = detect_format(first)
        except FormatError as exc:
            raise FormatError(f"{pack.name}: {exc}") from None
        facts = ReadFacts()
        records = read_records(
            kind, chain(head, pack.lines), pack.name, options.default_source, facts
        )
        report = ImportReport(source=pack.name, format=kind)
        tracker = _Tracker()
        with store.transaction():
            report.items_added, report.items_present = store.add_items_bulk(
                _new_items(store, records, report, tracker)
            )
            report.sha256 = pack.finish()
            if expected is not None and report.sha256 != expected:
                raise UsageError(
                    f"{pack.name}: SHA-256 is {report.sha256}, not the {expected} expected;"
                    " refused, nothing imported"
                )
            if signature is not None and options.verify_key is not None:
                statement = signing.verify(
                    signature, options.verify_key, report.sha256, pack.raw.size, pack.name
                )
                report.signer, report.signed_at = statement.public_key, statement.signed_at
            report.skipped = facts.skipped
            name = facts.header.get("name") if kind == EXPORT else None
            report.name = name if isinstance(name, str) else None
            missing = tracker.missing(store)
            report.removed = len(missing)
            if options.prune and missing:
                report.pruned = store.remove_items(missing)
            store.record_pack(
                tracker.source_ids(),
                PackOrigin(
                    location=pack.location,
                    sha256=report.sha256,
                    signer=report.signer,
                    signed_at=report.signed_at,
                    name=report.name,
                    imported_at=datetime.now(UTC).isoformat(timespec="seconds"),
                ),
            )
    return report


def import_file(
    store: Store, path: Path, *, default_source: SourceInfo | None = None
) -> ImportReport:
    """Import a local file with no checks beyond its format (the library call of earlier
    versions, kept for scripts and benchmarks)."""
    return import_pack(store, str(path), ImportOptions(default_source=default_source))


def _expected_digest(text: str | None) -> str | None:
    if text is None:
        return None
    digest = text.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise UsageError(f"--sha256 must be 64 hex digits, not {text!r}")
    return digest


def _signature_bytes(source: str, options: ImportOptions) -> bytes | None:
    """The detached signature, read before the pack so that a missing one costs nothing."""
    if options.verify_key is None:
        if options.signature is not None:
            raise UsageError("--signature needs --verify-key (the key it must be made with)")
        return None
    location = options.signature
    if location is None:
        if source == "-":
            raise UsageError(
                "a pack read from standard input has no name to find its signature by;"
                " give --signature FILE"
            )
        location = source + ".sig"
    return read_small(location, allow_private=options.allow_private)


def _first_meaningful(lines: Iterator[str], name: str) -> tuple[list[str], str]:
    """The lines up to the first that is neither blank nor a ``#`` comment, and that line: what
    the format is told from, without seeking back (standard input cannot)."""
    head: list[str] = []
    for line in lines:
        head.append(line)
        text = line.strip()
        if text and not text.startswith("#"):
            return head, text
    raise FormatError(f"{name}: nothing to import (the input is empty)")


class _Tracker:
    """Which items of which sources the pack holds, to find the ones it no longer does. Keys are
    Python hashes of (item_key, frame_time): 8 bytes an item, not the strings."""

    def __init__(self) -> None:
        self._seen: dict[int, set[int]] = {}

    def source(self, source_id: int) -> None:
        self._seen.setdefault(source_id, set())

    def item(self, item: NewItem) -> None:
        time = -1.0 if item.frame_time is None else item.frame_time
        self._seen[item.source_id].add(hash((item.item_key, time)))

    def source_ids(self) -> list[int]:
        return sorted(self._seen)

    def missing(self, store: Store) -> list[int]:
        """Items of the pack's sources that the pack does not hold, among sources that came from
        a pack before (a desk's own source that happens to share a label is left alone). Call
        before ``record_pack``."""
        counts = {s.id: s.item_count for s in store.sources() if s.pack is not None}
        out: list[int] = []
        for source_id, keys in self._seen.items():
            if counts.get(source_id, 0) <= len(keys):
                continue  # not from a pack, or no more items than the pack holds
            for item_id, item_key, frame_time in store.item_keys(source_id):
                time = -1.0 if frame_time is None else float(frame_time)
                if hash((item_key, time)) not in keys:
                    out.append(int(item_id))
        return out


def _new_items(
    store: Store,
    records: Iterable[PackSource | PackItem],
    report: ImportReport,
    tracker: _Tracker,
) -> Iterator[NewItem]:
    """Create sources as their records arrive and turn items into rows for the bulk insert."""
    ids: dict[Any, int] = {}
    for record in records:
        if isinstance(record, PackSource):
            ids[record.key], created = store.ensure_source(record.info)
            report.sources_created += int(created)
            tracker.source(ids[record.key])
            continue
        item = NewItem(
            ids[record.source_key],
            origin=record.origin,
            item_key=record.item_key,
            hashes=record.hashes,
            sha256=record.sha256,
            width=record.width,
            height=record.height,
            frame_time=record.frame_time,
            thumbnail=record.thumbnail,
            features=record.features,
        )
        tracker.item(item)
        yield item
