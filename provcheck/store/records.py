"""What the reference database holds, as plain values: sources and their provenance, items,
hashes, and the flat arrays a search runs over. No SQL here, so the matcher and reports can use
them without a database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date

import numpy as np

from provcheck.errors import UsageError
from provcheck.signals.hashes import Hash
from provcheck.signals.keypoints import RETRIEVAL_FEATURES, Features
from provcheck.signals.thumbnail import Thumbnail

Region = tuple[float, float, float, float]

#: What a source may be (the README's ``--category``); every backend refuses anything else.
CATEGORIES = ("game", "footage", "other")

#: The kind (and sidecar name) under which every item's retrieval keypoints are packed (see
#: provcheck.signals.keypoints), named by how many of each item's keypoints it holds: arrays
#: written with another count are then never read as current.
FEATURE_KIND = f"orb{RETRIEVAL_FEATURES}"
#: Names that kind had before (64 keypoints per item): their sidecar files are removed once the
#: current one is written.
LEGACY_FEATURE_KINDS = ("orb",)


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """Provenance shared by every item of one source: where the material came from and when."""

    label: str
    category: str
    url: str | None = None
    first_seen: str | None = None
    license: str | None = None
    notes: str | None = None

    def __post_init__(self) -> None:
        for name in ("label", "category", "url", "first_seen", "license", "notes"):
            value = getattr(self, name)
            if value is None and name not in ("label", "category"):
                continue
            if not isinstance(value, str):
                raise UsageError(f"{name.replace('_', '-')} must be text, not {value!r}")
            if "\x00" in value or (not value.isprintable() and _unencodable(value)):
                raise UsageError(
                    f"{name.replace('_', '-')} must be text without NUL or lone surrogates"
                )
        if not self.label.strip():
            raise UsageError("a source needs a non-empty --label")
        if self.category not in CATEGORIES:
            raise UsageError(
                f"category must be one of {', '.join(CATEGORIES)}, not {self.category!r}"
            )
        if self.first_seen is not None:
            parse_date(self.first_seen, "--first-seen")

    @classmethod
    def stored(cls, *values: object) -> SourceInfo:
        """A source as a database holds it, not checked again: whatever a database made by hand
        (or by an older provcheck) holds is shown as it is, never a reason for a scan to stop."""
        info = object.__new__(cls)
        for spec, value in zip(fields(cls), values, strict=False):
            object.__setattr__(info, spec.name, value)
        for spec in fields(cls)[len(values) :]:
            object.__setattr__(info, spec.name, None)
        return info

    def check_new(self) -> SourceInfo:
        """This source, refused if its label or URL hold control characters or are too long to be
        names: what a new source (``db add``, an import) must pass. Stored ones are not checked
        again (see ``stored``); printing them is made safe where they are printed."""
        for name, text, longest in (("label", self.label, 1000), ("url", self.url, 4096)):
            if text is None:
                continue
            if len(text) > longest:
                raise UsageError(f"{name} is {len(text):,} characters long; at most {longest:,}")
            if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text):
                raise UsageError(f"{name} must not contain control characters, got {text!r}")
        return self


def provenance_updates(old: SourceInfo, new: SourceInfo) -> dict[str, str]:
    """What adding ``new`` to the stored source ``old`` (same label) fills in: provenance that was
    missing. Provenance that contradicts what is stored is refused (``UsageError``) rather than
    history rewritten. Pure, so a command can check before it hashes anything."""
    if old.category != new.category:
        raise UsageError(
            f"source {new.label!r} is already in the database as category {old.category!r};"
            " use that category or another label"
        )
    updates: dict[str, str] = {}
    for name in ("url", "first_seen", "license", "notes"):
        new_value, old_value = getattr(new, name), getattr(old, name)
        if new_value is None or new_value == old_value:
            continue
        if old_value is not None:
            raise UsageError(
                f"source {new.label!r} already has {name.replace('_', '-')} {old_value!r};"
                f" refusing to change it to {new_value!r} (use another label)"
            )
        updates[name] = new_value
    return updates


def _unencodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{what} must be a date as YYYY-MM-DD, not {text!r}") from None


@dataclass(frozen=True, slots=True)
class PackOrigin:
    """Where a source's references last came from when they were imported as a pack: the file
    or URL, the SHA-256 of its bytes, and who signed it and when (None: not signed, or imported
    without ``--verify-key``, so nobody vouched for it)."""

    location: str
    sha256: str
    signer: str | None = None
    signed_at: str | None = None
    name: str | None = None
    imported_at: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    id: int
    info: SourceInfo
    item_count: int = 0
    pack: PackOrigin | None = None


@dataclass(frozen=True, slots=True)
class StoredHash:
    hash: Hash
    quality: int | None = None
    region: Region | None = None


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """One reference item with its source's provenance: what a match reports."""

    id: int
    source_id: int
    origin: str
    item_key: str
    sha256: str | None
    width: int | None
    height: int | None
    frame_time: float | None
    source: SourceInfo
    hashes: list[StoredHash] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NewItem:
    """An item to store with ``Store.add_items_bulk``: what ``add_item`` takes, as one value."""

    source_id: int
    origin: str
    item_key: str
    hashes: Sequence[StoredHash]
    sha256: str | None = None
    width: int | None = None
    height: int | None = None
    frame_time: float | None = None
    thumbnail: Thumbnail | None = None
    #: The item's keypoints (what ``put_features`` stores), so that a bulk import is lossless.
    features: Features | None = None

    @property
    def identity(self) -> tuple[int, str, float]:
        """The key of the ``items_identity`` unique index (a still's frame_time counts as -1)."""
        return (self.source_id, self.item_key, -1.0 if self.frame_time is None else self.frame_time)


@dataclass(frozen=True, slots=True)
class KindArrays:
    """Everything a search over one hash kind needs, as flat arrays (row i = one stored hash)."""

    kind: str
    hash_ids: np.ndarray  # int64
    item_ids: np.ndarray  # int64
    codes: np.ndarray  # uint8, shape (rows, bytes per hash)
