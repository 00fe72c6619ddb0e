"""Writing references out: a provcheck pack (JSON Lines, lossless), a PDQ list, a
python-threatexchange signal file, or one vPDQ file per reference video.

Only the pack is lossless (every source, item, hash with its region, and keypoint set; previews
with ``thumbnails``). The others are what other tools read: PDQ hashes, and for vPDQ the frames of
videos with their times.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from provcheck import __version__
from provcheck.errors import UsageError
from provcheck.services.packs.records import (
    FEATURES_ENCODING,
    FORMAT_NAME,
    FORMAT_VERSION,
    item_record,
    source_record,
)
from provcheck.signals.hashes import get_hasher, hasher_names
from provcheck.store import ItemRecord, Store

JSONL = "jsonl"
PDQ = "pdq"
THREATEXCHANGE = "threatexchange"
VPDQ = "vpdq"
FORMATS = (JSONL, PDQ, THREATEXCHANGE, VPDQ)
#: Items whose keypoints and previews are read in one query while exporting.
_BATCH = 500


def _dumps(record: dict[str, object]) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def export_lines(
    store: Store, *, thumbnails: bool = False, name: str | None = None
) -> Iterator[str]:
    """The pack, line by line (export format version 2). ``thumbnails`` adds each item's preview:
    off by default, since a pack is how hashes are shared with partners, and a preview is (a
    little of) the picture. ``name`` is the pack's own name, recorded by the desks importing it."""
    header: dict[str, object] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "provcheck": __version__,
        "hash_kinds": {kind: get_hasher(kind).bits for kind in hasher_names()},
        "features_encoding": FEATURES_ENCODING,
    }
    if name:
        header["name"] = name
    yield _dumps(header)
    for source in store.sources():
        yield _dumps(source_record(source))
    for batch in _batches(store.iter_items_with_hashes(), _BATCH):
        ids = [item.id for item in batch]
        features = store.features(ids)
        previews = store.thumbnails(ids) if thumbnails else {}
        for item in batch:
            yield _dumps(item_record(item, features.get(item.id), previews.get(item.id)))


def _batches(items: Iterable[ItemRecord], size: int) -> Iterator[list[ItemRecord]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _pdq_hexes(store: Store) -> Iterator[tuple[str, str]]:
    """(hex, source label) of every stored PDQ hash, each pair once, in item order."""
    labels = {source.id: source.info.label for source in store.sources()}
    seen: set[tuple[str, int]] = set()
    for item in store.iter_items_with_hashes():
        for stored in item.hashes:
            if stored.hash.kind != "pdq":
                continue
            key = (stored.hash.hex, item.source_id)
            if key not in seen:
                seen.add(key)
                yield stored.hash.hex, labels[item.source_id]


def pdq_lines(store: Store) -> Iterator[str]:
    """A PDQ list: ``<64 hex digits> <source label>`` per line (what ``db import`` reads back,
    each hash to its labelled source)."""
    yield f"# PDQ hashes exported by provcheck {__version__}: <hash> <source label>"
    for hex_digits, label in _pdq_hexes(store):
        yield f"{hex_digits} {' '.join(label.split())}"


def threatexchange_lines(store: Store) -> Iterator[str]:
    """python-threatexchange's local file format: ``pdq <hex>`` per line, each hash once. The
    format has no labels: importing it back needs ``--label``."""
    seen: set[str] = set()
    for hex_digits, _label in _pdq_hexes(store):
        if hex_digits not in seen:
            seen.add(hex_digits)
            yield f"pdq {hex_digits}"


def export_vpdq(store: Store, folder: Path) -> list[Path]:
    """One vPDQ file per reference video in ``folder``: ``frame,quality,pdq_hex,timestamp`` per
    stored frame, as Meta's vpdq-hash-video writes them. ``frame`` is the frame's rank among
    the frames provcheck kept (it samples scene changes, and keeps no frame rate), the timestamp
    its time in seconds (3 decimals). Files are named by the video's SHA-256."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder}: --format vpdq writes a folder of files; this is a file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{folder}: cannot create the folder ({exc.strerror or exc})") from None
    videos: dict[tuple[int, str], list[tuple[float, int, str]]] = {}
    for item in store.iter_items_with_hashes():
        if item.frame_time is None:
            continue
        for stored in item.hashes:
            if stored.hash.kind == "pdq" and stored.region is None:
                frames = videos.setdefault((item.source_id, item.item_key), [])
                frames.append((item.frame_time, stored.quality or 0, stored.hash.hex))
                break
    written: list[Path] = []
    names: set[str] = set()
    for (source_id, item_key), frames in videos.items():
        stem = _file_stem(item_key)
        if stem in names:
            stem = f"{stem}-{source_id}"
        names.add(stem)
        path = folder / f"{stem}.txt"
        frames.sort()
        path.write_text(
            "".join(
                f"{rank},{quality},{hex_digits},{time:.3f}\n"
                for rank, (time, quality, hex_digits) in enumerate(frames)
            ),
            encoding="ascii",
        )
        written.append(path)
    return written


def _file_stem(item_key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", item_key)[:120]
