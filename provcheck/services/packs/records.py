"""The records of a provcheck pack (export format versions 1 and 2) as values, and the one place
where a JSON line becomes one of them or one of them becomes a JSON line.

Everything an import trusts about a line is checked here: the file may come from anyone. A
problem raises ``ValueError`` (or ``KeyError`` for a missing field); the reader adds the file and
line number (``FILE:LINE: reason``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from provcheck.services.packs import fields
from provcheck.signals.hashes import Hash, get_hasher
from provcheck.signals.keypoints import Features
from provcheck.signals.thumbnail import Thumbnail, thumbnail_from_untrusted
from provcheck.store import ItemRecord, Source, SourceInfo, StoredHash

FORMAT_NAME = "provcheck-export"
#: Version 2 adds each item's keypoints (``features``) and the optional ``pack`` header field.
FORMAT_VERSION = 2
#: Versions this provcheck reads: a version-1 file imports as it always did.
READABLE_VERSIONS = (1, 2)
#: The keypoint encoding version 2 writes: ``Features.to_blob()`` (magic ``PCF1``), base64.
FEATURES_ENCODING = "pcf1"
#: Bytes of one keypoint in a PCF1 blob (two uint16 coordinates, a 32-byte descriptor), and of
#: its header (magic, count, width, height).
_PCF1_POINT_BYTES = 36
_PCF1_HEADER_BYTES = 10


@dataclass(frozen=True, slots=True)
class PackSource:
    """A source line: ``key`` is what the pack's items name it by (not a database id)."""

    key: Any
    info: SourceInfo


@dataclass(frozen=True, slots=True)
class PackItem:
    """An item line, ready to store once its source has a database id."""

    source_key: Any
    origin: str
    item_key: str
    sha256: str | None
    width: int | None
    height: int | None
    frame_time: float | None
    hashes: list[StoredHash]
    thumbnail: Thumbnail | None = None
    features: Features | None = None


# -- writing -----------------------------------------------------------------------------------


def source_record(source: Source) -> dict[str, Any]:
    info = source.info
    return {
        "type": "source",
        "key": source.id,
        "label": info.label,
        "category": info.category,
        "url": info.url,
        "first_seen": info.first_seen,
        "license": info.license,
        "notes": info.notes,
    }


def item_record(
    item: ItemRecord, features: Features | None, thumbnail: Thumbnail | None
) -> dict[str, Any]:
    """An item line: its provenance, hashes (with regions), keypoints and, if asked, preview."""
    record: dict[str, Any] = {
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
    }
    if features is not None and len(features):
        record["features"] = base64.b64encode(features.to_blob()).decode("ascii")
    if thumbnail is not None:
        record["thumbnail"] = {
            "mime": thumbnail.mime,
            "data": base64.b64encode(thumbnail.data).decode("ascii"),
        }
    return record


# -- reading -----------------------------------------------------------------------------------


def check_header(record: dict[str, Any]) -> int:
    """The version of a header line this provcheck reads; ValueError for any other."""
    version = record.get("version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise ValueError(
            f"export format version {version!r}; this provcheck reads versions"
            f" {', '.join(map(str, READABLE_VERSIONS))} (upgrade provcheck)"
        )
    encoding = record.get("features_encoding", FEATURES_ENCODING)
    if encoding != FEATURES_ENCODING:
        raise ValueError(f"unknown features_encoding {encoding!r}")
    return int(version)


def parse_source(record: dict[str, Any]) -> PackSource:
    info = SourceInfo(
        label=_text(record, "label"),
        category=_text(record, "category"),
        url=_optional_text(record, "url"),
        first_seen=_optional_text(record, "first_seen"),
        license=_optional_text(record, "license"),
        notes=_optional_text(record, "notes"),
    ).check_new()  # types, NUL, dates; no control characters in a label or a URL
    return PackSource(fields.key(record["key"], "key"), info)


def parse_item(record: dict[str, Any]) -> PackItem:
    """An item line, every field checked for its type and range (``fields``): what gets in
    is what a later scan can rely on."""
    features = record.get("features")
    return PackItem(
        source_key=fields.key(record["source"], "source"),
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
        features=None if features is None else parse_features(features),
    )


def parse_features(text: Any) -> Features:
    """An item's keypoints from their base64 PCF1 blob, checked to be exactly one well-formed
    blob (the bytes go into the database as they are)."""
    if not isinstance(text, str):
        raise ValueError("features must be a base64 string")
    try:
        blob = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("features are not valid base64") from None
    if len(blob) < _PCF1_HEADER_BYTES or blob[:4] != b"PCF1":
        raise ValueError("features are not a PCF1 keypoint blob")
    count = int.from_bytes(blob[4:6], "little")
    if len(blob) != _PCF1_HEADER_BYTES + _PCF1_POINT_BYTES * count:
        raise ValueError(f"features blob holds {len(blob)} bytes, not {count} keypoints")
    return Features.from_blob(blob)


def _text(record: dict[str, Any], name: str) -> str:
    value = record[name]
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def _optional_text(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string or null")
    return value


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
        _hash(kind, digits),
        fields.count(record.get("quality"), "quality", top=100),
        fields.region(record.get("region")),
    )


#: Hex digits of each hash kind, looked up once: parsing hashes is most of an import's Python time.
_HEX_DIGITS: dict[str, int] = {}


def _hash(kind: str, text: str) -> Hash:
    """``Hash.from_hex`` without its per-call lookups when the text is well formed (the usual
    case); anything else goes through it for the same checks and messages."""
    digits = _HEX_DIGITS.get(kind)
    if digits is None:
        digits = _HEX_DIGITS[kind] = get_hasher(kind).bits // 4
    if len(text) == digits:
        try:
            packed = bytes.fromhex(text)
        except ValueError:
            packed = b""
        if len(packed) * 2 == digits:
            return Hash(kind, packed)
    return Hash.from_hex(kind, text)
