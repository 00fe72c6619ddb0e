"""What an import reads, told from its content: a provcheck pack (JSON Lines, export format
versions 1 and 2), a plain PDQ list, python-threatexchange's signal file (``pdq <hex>`` lines) or
a vPDQ file (``frame,quality,pdq_hex,timestamp`` per line, one video). Each reader turns lines
into ``PackSource`` and ``PackItem`` records; errors name the input and line (``FILE:LINE``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from provcheck.errors import FormatError, UsageError
from provcheck.media.reading import display_name
from provcheck.services.packs import fields
from provcheck.services.packs.records import (
    FORMAT_NAME,
    PackItem,
    PackSource,
    check_header,
    parse_item,
    parse_source,
)
from provcheck.signals.hashes import Hash
from provcheck.store import SourceInfo, StoredHash

EXPORT = "export"
PDQ_LIST = "pdq-list"
THREATEXCHANGE = "threatexchange"
VPDQ = "vpdq"

_PDQ_LINE = re.compile(r"^([0-9a-fA-F]{64})(?:\s+(.*))?$")
#: python-threatexchange's file exchange: ``<signal type name> <signal>``, split at the first space.
_TX_LINE = re.compile(r"^([a-z][a-z0-9_]*) (.*)$")
#: Meta's vPDQ hash files (vpdq-hash-video, vpdqio.cpp): four comma-separated fields.
_VPDQ_LINE = re.compile(r"^(\d+),(\d+),([0-9a-fA-F]{64}),(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)$")


@dataclass
class ReadFacts:
    """What a reader learnt besides the records: the pack's header, lines it could not use."""

    header: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)


def detect_format(first_line: str) -> str:
    """The format of an input from its first line that is neither blank nor a ``#`` comment."""
    line = first_line.strip()
    if line.startswith("{"):
        try:
            head = json.loads(line)
        except json.JSONDecodeError:
            raise FormatError("first line looks like JSON but does not parse") from None
        if isinstance(head, dict) and head.get("format") == FORMAT_NAME:
            return EXPORT
        raise FormatError("first line is JSON but not a provcheck export header")
    if _VPDQ_LINE.match(line):
        return VPDQ
    if _PDQ_LINE.match(line):
        return PDQ_LIST
    if _TX_LINE.match(line):
        return THREATEXCHANGE
    return PDQ_LIST  # the PDQ list reader names the line it cannot read


def read_records(
    kind: str,
    lines: Iterable[str],
    name: str,
    default: SourceInfo | None,
    facts: ReadFacts,
) -> Iterator[PackSource | PackItem]:
    name = display_name(name)  # it becomes items' origins: text SQLite can store
    if kind == EXPORT:
        return _read_export(lines, name, facts)
    if default is None:
        raise UsageError(f"{name}: a {kind} file names no source; give --label and --category")
    if kind == VPDQ:
        return _read_vpdq(lines, name, default)
    if kind == THREATEXCHANGE:
        return _read_threatexchange(lines, name, default, facts)
    return _read_pdq_list(lines, name, default)


def _read_export(
    lines: Iterable[str], name: str, facts: ReadFacts
) -> Iterator[PackSource | PackItem]:
    sources: set[Any] = set()
    header_seen = False
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FormatError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise FormatError(f"{where}: expected a JSON object")
        try:
            if not header_seen:
                if record.get("format") != FORMAT_NAME:
                    raise ValueError("the first line must be the export header")
                check_header(record)
                facts.header = record
                header_seen = True
            elif record.get("type") == "source":
                source = parse_source(record)
                sources.add(source.key)
                yield source
            elif record.get("type") == "item":
                item = parse_item(record)
                if item.source_key not in sources:
                    raise ValueError(
                        f"item names source {item.source_key!r}, which no earlier line defines"
                    )
                yield item
            else:
                raise ValueError(f"unknown record type {record.get('type')!r}")
        except KeyError as exc:
            raise FormatError(f"{where}: missing field {exc.args[0]!r}") from None
        except (UsageError, ValueError, TypeError) as exc:
            raise FormatError(f"{where}: {exc}") from None


def _source(label: str, default: SourceInfo) -> PackSource:
    return PackSource(
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


def _pdq_item(label: str, origin: str, hex_digits: str) -> PackItem:
    return PackItem(
        source_key=label,
        origin=origin,
        item_key=f"pdq:{hex_digits}",
        sha256=None,
        width=None,
        height=None,
        frame_time=None,
        # The pattern has already checked 64 hex digits: skip Hash.from_hex's re-validation.
        hashes=[StoredHash(Hash("pdq", bytes.fromhex(hex_digits)))],
    )


def _read_pdq_list(
    lines: Iterable[str], name: str, default: SourceInfo
) -> Iterator[PackSource | PackItem]:
    """One 64-hex-digit PDQ hash per line, optionally followed by whitespace and a label.

    A line's label names the source its hash belongs to (same category and provenance as the
    command's options); lines without one go to the source named by ``--label``.
    """
    sources: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        found = _PDQ_LINE.match(line)
        if found is None:
            raise FormatError(
                f"{name}:{number}: expected 64 hex digits and an optional label, got {line[:80]!r}"
            )
        hex_digits, label = found.group(1).lower(), (found.group(2) or "").strip()
        try:
            label = fields.text(label, "label", longest=1000, single_line=True) if label else None
        except ValueError as exc:
            raise FormatError(f"{name}:{number}: {exc}") from None
        label = label or default.label
        if label not in sources:
            sources.add(label)
            yield _source(label, default)
        yield _pdq_item(label, f"{name}:{number}", hex_digits)


def _read_threatexchange(
    lines: Iterable[str], name: str, default: SourceInfo, facts: ReadFacts
) -> Iterator[PackSource | PackItem]:
    """python-threatexchange's local file exchange: ``<signal type> <signal>`` per line. Its
    ``pdq`` signals are PDQ hashes; other signal types (URLs, MD5s, text) are not pictures, so
    they are counted in the report and left out."""
    yield _source(default.label, default)
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        signal_type, _, signal = line.partition(" ")
        if not signal_type or not signal:
            raise FormatError(
                f"{name}:{number}: expected '<signal type> <signal>', got {line[:80]!r}"
            )
        if signal_type != "pdq":
            facts.skipped[signal_type] = facts.skipped.get(signal_type, 0) + 1
            continue
        hex_digits = signal.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", hex_digits):
            raise FormatError(
                f"{name}:{number}: a pdq signal is 64 hex digits, got {signal[:80]!r}"
            )
        yield _pdq_item(default.label, f"{name}:{number}", hex_digits)


def _read_vpdq(
    lines: Iterable[str], name: str, default: SourceInfo
) -> Iterator[PackSource | PackItem]:
    """One video's vPDQ hashes: ``frame,quality,pdq_hex,timestamp`` per line. Every line is one
    frame of one video item; the video's identity is its file name when that is a SHA-256 (as
    ``db export --format vpdq`` names them), else the digest of its hash lines."""
    yield _source(default.label, default)
    frames: list[tuple[int, str, float]] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        found = _VPDQ_LINE.match(line)
        if found is None:
            raise FormatError(
                f"{name}:{number}: expected frame,quality,pdq_hex,timestamp, got {line[:80]!r}"
            )
        quality = int(found.group(2))
        if quality > 100:
            raise FormatError(f"{name}:{number}: quality {quality} is over 100")
        try:
            timestamp = fields.seconds(float(found.group(4)), "timestamp")
        except ValueError as exc:
            raise FormatError(f"{name}:{number}: {exc}") from None
        frames.append((quality, found.group(3).lower(), timestamp or 0.0))
    if not frames:
        raise FormatError(f"{name}: no vPDQ lines")
    key = video_key(name, frames)
    for quality, hex_digits, timestamp in frames:
        yield PackItem(
            source_key=default.label,
            origin=name,
            item_key=key,
            sha256=key if re.fullmatch(r"[0-9a-f]{64}", key) else None,
            width=None,
            height=None,
            frame_time=timestamp,
            hashes=[StoredHash(Hash("pdq", bytes.fromhex(hex_digits)), quality)],
        )


def video_key(name: str, frames: list[tuple[int, str, float]]) -> str:
    stem = name.replace("\\", "/").rsplit("/", 1)[-1].split(".", 1)[0].lower()
    if re.fullmatch(r"[0-9a-f]{64}", stem[:64]) and (len(stem) == 64 or stem[64] == "-"):
        return stem[:64]
    digest = hashlib.sha256()
    for quality, hex_digits, timestamp in frames:
        digest.update(f"{quality},{hex_digits},{timestamp:.3f}\n".encode())
    return f"vpdq:{digest.hexdigest()}"
