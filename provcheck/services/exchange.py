"""Moving references between databases without pixels: the export format and PDQ hash lists.

Export format, version 1 (JSON Lines, UTF-8, one JSON object per line; documented in the README):

    {"format": "provcheck-export", "version": 1, "provcheck": "0.1.0", "hash_kinds": {...}}
    {"type": "source", "key": 1, "label": ..., "category": ..., "url": ..., "first_seen": ...,
     "license": ..., "notes": ...}
    {"type": "item", "source": 1, "origin": ..., "item_key": ..., "sha256": ..., "width": ...,
     "height": ..., "frame_time": ..., "hashes": [{"kind": "pdq", "hex": ..., "quality": ...,
     "region": null | [x, y, w, h]}],
     "thumbnail": {"mime": "image/webp", "data": BASE64}}   <- optional, only with --thumbnails

Every source line comes before the items that name its ``key``. Readers ignore unknown fields, so
later versions can add fields without breaking older readers; a new ``version`` means a reader
must not guess.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from provcheck import __version__
from provcheck.errors import FormatError, UsageError
from provcheck.media.reading import display_name
from provcheck.services import export_fields as fields
from provcheck.signals.hashes import Hash, get_hasher, hasher_names
from provcheck.signals.thumbnail import Thumbnail, thumbnail_from_untrusted
from provcheck.store import NewItem, SourceInfo, Store, StoredHash

FORMAT_NAME = "provcheck-export"
FORMAT_VERSION = 1

_PDQ_LINE = re.compile(r"^([0-9a-fA-F]{64})(?:\s+(.*))?$")


def export_lines(store: Store, *, thumbnails: bool = False) -> Iterator[str]:
    """The export, line by line. ``thumbnails`` adds each item's preview: off by default, since an
    export is how hashes are shared with partners, and a preview is (a little of) the picture."""
    header = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "provcheck": __version__,
        "hash_kinds": {name: get_hasher(name).bits for name in hasher_names()},
    }
    yield json.dumps(header, sort_keys=True)
    for source in store.sources():
        info = source.info
        yield json.dumps(
            {
                "type": "source",
                "key": source.id,
                "label": info.label,
                "category": info.category,
                "url": info.url,
                "first_seen": info.first_seen,
                "license": info.license,
                "notes": info.notes,
            },
            sort_keys=True,
            ensure_ascii=False,
        )
    for item in store.iter_items_with_hashes():
        extra: dict[str, Any] = {}
        if thumbnails:
            thumb = store.thumbnails([item.id]).get(item.id)
            if thumb is not None:
                extra["thumbnail"] = {
                    "mime": thumb.mime,
                    "data": base64.b64encode(thumb.data).decode("ascii"),
                }
        yield json.dumps(
            {
                **extra,
                "type": "item",
                "source": item.source_id,
                "origin": item.origin,
                "item_key": item.item_key,
                "sha256": item.sha256,
                "width": item.width,
                "height": item.height,
                "frame_time": item.frame_time,
                "hashes": [
                    {
                        "kind": h.hash.kind,
                        "hex": h.hash.hex,
                        "quality": h.quality,
                        "region": list(h.region) if h.region else None,
                    }
                    for h in item.hashes
                ],
            },
            sort_keys=True,
            ensure_ascii=False,
        )


@dataclass(slots=True)
class ImportReport:
    format: str = ""
    sources_created: int = 0
    items_added: int = 0
    items_present: int = 0


@dataclass(frozen=True, slots=True)
class _Item:
    source_key: Any
    origin: str
    item_key: str
    sha256: str | None
    width: int | None
    height: int | None
    frame_time: float | None
    hashes: list[StoredHash]
    thumbnail: Thumbnail | None = None


@dataclass(frozen=True, slots=True)
class _Source:
    key: Any
    info: SourceInfo


def detect_format(first_line: str) -> str:
    try:
        head = json.loads(first_line)
    except json.JSONDecodeError:
        return "pdq-list"
    if isinstance(head, dict) and head.get("format") == FORMAT_NAME:
        return "export"
    raise FormatError("first line is JSON but not a provcheck export header")


def import_file(
    store: Store,
    path: Path,
    *,
    default_source: SourceInfo | None = None,
) -> ImportReport:
    """Import ``path`` (export JSON Lines or a PDQ list) in one transaction: all lines or none.

    The file is read as a stream and stored in chunks through ``Store.add_items_bulk``, so a
    million-line list needs neither a million Python objects at once nor a SELECT per line; a
    malformed line anywhere rolls back every chunk before it.
    """
    try:
        with path.open(encoding="utf-8") as handle:
            first = ""
            for first in handle:
                if first.strip():
                    break
            if not first.strip():
                raise FormatError(f"{path}: file is empty")
            kind = detect_format(first.strip())
            handle.seek(0)
            if kind == "export":
                records = _read_export(handle, path)
            else:
                if default_source is None:
                    raise UsageError(f"{path}: a PDQ hash list needs --label and --category")
                records = _read_pdq_list(handle, path, default_source)
            report = ImportReport(format=kind)
            with store.transaction():
                added, present = store.add_items_bulk(_new_items(store, records, report))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise FormatError(f"{path}: not UTF-8 text; expected an export or a PDQ list") from None
    report.items_added, report.items_present = added, present
    return report


def _new_items(
    store: Store, records: Iterable[_Source | _Item], report: ImportReport
) -> Iterator[NewItem]:
    """Create sources as their records arrive and turn items into rows for the bulk insert."""
    ids: dict[Any, int] = {}
    for record in records:
        if isinstance(record, _Source):
            ids[record.key], created = store.ensure_source(record.info)
            report.sources_created += int(created)
            continue
        yield NewItem(
            ids[record.source_key],
            origin=record.origin,
            item_key=record.item_key,
            hashes=record.hashes,
            sha256=record.sha256,
            width=record.width,
            height=record.height,
            frame_time=record.frame_time,
            thumbnail=record.thumbnail,
        )


def _read_export(lines: Iterable[str], path: Path) -> Iterator[_Source | _Item]:
    sources: set[Any] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FormatError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise FormatError(f"{where}: expected a JSON object")
        try:
            if "format" in record:
                version = record.get("version")
                if type(version) is not int or version != FORMAT_VERSION:
                    raise FormatError(
                        f"{where}: export format version {record.get('version')!r}; this"
                        f" provcheck reads version {FORMAT_VERSION}"
                    )
            elif record.get("type") == "source":
                info = SourceInfo(
                    label=record["label"],
                    category=record["category"],
                    url=record.get("url"),
                    first_seen=record.get("first_seen"),
                    license=record.get("license"),
                    notes=record.get("notes"),
                ).check_new()
                source_key = fields.key(record["key"], "key")
                sources.add(source_key)
                yield _Source(source_key, info)
            elif record.get("type") == "item":
                source_key = fields.key(record["source"], "source")
                if source_key not in sources:
                    raise FormatError(
                        f"{where}: item names source {source_key!r}, which no earlier line defines"
                    )
                yield _Item(
                    source_key=source_key,
                    origin=fields.text(record["origin"], "origin", longest=fields.MAX_ORIGIN),
                    item_key=fields.text(
                        record["item_key"], "item_key", longest=fields.MAX_KEY, single_line=True
                    ),
                    sha256=fields.sha256(record.get("sha256")),
                    width=fields.count(record.get("width"), "width", top=fields.MAX_SIDE),
                    height=fields.count(record.get("height"), "height", top=fields.MAX_SIDE),
                    frame_time=fields.seconds(record.get("frame_time"), "frame_time"),
                    hashes=[_stored_hash(h) for h in fields.hash_list(record["hashes"])],
                    thumbnail=_thumbnail(record.get("thumbnail")),
                )
            else:
                raise FormatError(f"{where}: unknown record type {record.get('type')!r}")
        except KeyError as exc:
            raise FormatError(f"{where}: missing field {exc.args[0]!r}") from None
        except (UsageError, ValueError, TypeError) as exc:
            raise FormatError(f"{where}: {exc}") from None


def _thumbnail(record: Any) -> Thumbnail | None:
    """An item's optional preview, checked and re-encoded (an import file may be hostile)."""
    if record is None:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("data"), str):
        raise ValueError('thumbnail must be {"mime": ..., "data": base64}')
    try:
        data = base64.b64decode(record["data"], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("thumbnail data is not valid base64") from None
    return thumbnail_from_untrusted(str(record.get("mime")), data)


def _stored_hash(record: dict[str, Any]) -> StoredHash:
    kind, digits = fields.hash_kind_and_hex(record)
    return StoredHash(
        Hash.from_hex(kind, digits),
        fields.count(record.get("quality"), "quality", top=100),
        fields.region(record.get("region")),
    )


def _read_pdq_list(lines: IO[str], path: Path, default: SourceInfo) -> Iterator[_Source | _Item]:
    """One 64-hex-digit PDQ hash per line, optionally followed by whitespace and a label.

    A line's label names the source its hash belongs to (same category and provenance as the
    command's options); lines without one go to the source named by ``--label``.
    """
    sources: set[str] = set()
    origin = display_name(path.resolve())
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        found = _PDQ_LINE.match(line)
        if found is None:
            raise FormatError(
                f"{path}:{number}: expected 64 hex digits and an optional label, got {line[:80]!r}"
            )
        hex_digits, label = found.group(1).lower(), (found.group(2) or "").strip()
        try:
            label = fields.text(label, "label", longest=1000, single_line=True) if label else None
        except ValueError as exc:
            raise FormatError(f"{path}:{number}: {exc}") from None
        label = label or default.label
        if label not in sources:
            sources.add(label)
            yield _Source(
                label,
                SourceInfo(
                    label,
                    default.category,
                    default.url,
                    default.first_seen,
                    default.license,
                    default.notes,
                ),
            )
        yield _Item(
            source_key=label,
            origin=f"{origin}:{number}",
            item_key=f"pdq:{hex_digits}",
            sha256=None,
            width=None,
            height=None,
            frame_time=None,
            # The pattern has already checked 64 hex digits: skip Hash.from_hex's re-validation.
            hashes=[StoredHash(Hash("pdq", bytes.fromhex(hex_digits)))],
        )
