"""What every reference-store backend offers: the one interface scans, ingest, exchange and the
``db`` commands are written against, so a second backend (PostgreSQL) is a new module under
``provcheck.store``, never a fork of its callers.

The SQLite backend (``provcheck.store.sqlite``) is the reference implementation; its docstrings
say what each call promises. Writes happen inside ``transaction()``: all or nothing, and the
search arrays a scan reads are current when it commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import numpy as np

from provcheck.signals.keypoints import Features
from provcheck.signals.thumbnail import Thumbnail
from provcheck.store.records import (
    ItemRecord,
    KindArrays,
    NewItem,
    PackOrigin,
    Source,
    SourceInfo,
    StoredHash,
)


class Store(Protocol):
    """An open reference database. Close it (or use ``with``) when done."""

    #: Where the database lives: names it in messages and keys its sidecar folder.
    path: Path
    writable: bool

    def __enter__(self) -> Store: ...

    def __exit__(self, *exc: object) -> None: ...

    def close(self) -> None: ...

    # -- writes (inside ``transaction``) ---------------------------------------------------------

    def transaction(self) -> AbstractContextManager[None]: ...

    def ensure_source(self, info: SourceInfo) -> tuple[int, bool]: ...

    def remove_source(self, source_id: int) -> int: ...

    def add_item(
        self,
        source_id: int,
        *,
        origin: str,
        item_key: str,
        hashes: Sequence[StoredHash],
        sha256: str | None = None,
        width: int | None = None,
        height: int | None = None,
        frame_time: float | None = None,
    ) -> tuple[int, bool]: ...

    def add_items_bulk(self, items: Iterable[NewItem], chunk: int = 50_000) -> tuple[int, int]: ...

    def remove_item(self, item_id: int) -> None: ...

    def remove_items(self, item_ids: Iterable[int]) -> int: ...

    def record_pack(self, source_ids: Iterable[int], origin: PackOrigin) -> None: ...

    def put_thumbnail(self, item_id: int, thumbnail: Thumbnail) -> None: ...

    def put_features(self, item_id: int, features: Features) -> None: ...

    # -- reads ---------------------------------------------------------------------------------

    def find_source(self, label: str) -> Source | None: ...

    def sources(self) -> list[Source]: ...

    def count_items(self, source_id: int, item_key: str) -> int: ...

    def next_frame_time(self, source_id: int, item_key: str, frame_time: float) -> float | None: ...

    def items(
        self,
        ids: Iterable[int] | None = None,
        *,
        with_hashes: bool = False,
        source_id: int | None = None,
    ) -> list[ItemRecord]: ...

    def iter_items_with_hashes(self, batch: int = 2000) -> Iterator[ItemRecord]: ...

    def item_keys(self, source_id: int) -> Iterator[tuple[int, str, float | None]]: ...

    def thumbnails(self, item_ids: Iterable[int]) -> dict[int, Thumbnail]: ...

    def features(self, item_ids: Iterable[int]) -> dict[int, Features]: ...

    def feature_count(self) -> int: ...

    def feature_item_ids(self) -> np.ndarray: ...

    def counts(self) -> dict[str, int]: ...

    def stats(self) -> dict[str, object]: ...

    # -- search arrays (derived data; see ``provcheck.store.sidecars``) ------------------------

    def generation(self) -> int: ...

    def content_key(self) -> dict[str, object]: ...

    def hash_count(self, kind: str) -> int: ...

    def kind_arrays(self, kind: str) -> KindArrays: ...
