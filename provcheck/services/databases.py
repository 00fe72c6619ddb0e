"""Which databases a command reads and which one it writes, and the references a scan searches.

Scans search exactly the ``--db`` files (or ``PROVCHECK_DB``) when given; otherwise the bundled pack
plus the user's own database if it exists. Writes go to one database only, never the bundled pack.
``open_references`` opens what a scan searches and builds the matcher over it: the set-up that the
``scan`` command and the ``serve`` service share.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provcheck.errors import DatabaseError, UsageError
from provcheck.matching.matcher import Matcher
from provcheck.matching.references import ReferenceSet
from provcheck.store import Store, bundled_pack_path, default_db_path, open_store

ENV_VAR = "PROVCHECK_DB"


@dataclass(frozen=True, slots=True)
class DatabaseRef:
    path: Path
    role: str  # "bundled" | "user" | "given"

    @property
    def readonly(self) -> bool:
        return self.role == "bundled"


def _from_env() -> list[Path]:
    value = os.environ.get(ENV_VAR, "").strip()
    return [Path(p) for p in value.split(os.pathsep) if p.strip()] if value else []


def search_databases(given: Sequence[Path] = ()) -> list[DatabaseRef]:
    explicit = list(given) or _from_env()
    if explicit:
        return [DatabaseRef(Path(p), "given") for p in explicit]
    refs = []
    pack = bundled_pack_path()
    if pack.exists():
        refs.append(DatabaseRef(pack, "bundled"))
    user = default_db_path()
    if user.exists():
        refs.append(DatabaseRef(user, "user"))
    return refs


def write_database(given: Sequence[Path] = ()) -> Path:
    """The single database that ``db add``/``import``/``remove`` change."""
    explicit = list(given) or _from_env()
    if len(explicit) > 1:
        raise UsageError(
            f"this command writes to one database; got {len(explicit)} (--db or {ENV_VAR})"
        )
    return Path(explicit[0]) if explicit else default_db_path()


def open_for_search(refs: Sequence[DatabaseRef]) -> list[Store]:
    stores: list[Store] = []
    try:
        for ref in refs:
            # A user database is opened writable so its search arrays can be cached in it.
            stores.append(open_store(ref.path, readonly=ref.readonly or not _writable(ref.path)))
    except BaseException:
        for store in stores:
            store.close()
        raise
    return stores


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def describe(store: Store, ref: DatabaseRef) -> dict[str, object]:
    counts = store.counts()
    return {
        "path": str(ref.path),
        "role": ref.role,
        "items": counts["items"],
        "sources": counts["sources"],
    }


SEARCH_KINDS = ("pdq", "phash")


@dataclass(slots=True)
class References:
    """Open stores, their loaded search indexes and the matcher over them. Close when done."""

    refs: list[DatabaseRef]
    stores: list[Store]
    matcher: Matcher
    databases: list[dict[str, Any]] = field(default_factory=list)

    def close(self) -> None:
        for store in self.stores:
            store.close()

    def __enter__(self) -> References:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_references(
    dbs: Sequence[Path] = (), max_distances: Mapping[str, int] | None = None
) -> References:
    """Resolve ``dbs`` (``--db``, else ``PROVCHECK_DB``, else the defaults), open them and load
    every reference index into memory once."""
    refs = search_databases(dbs)
    if not refs:
        raise DatabaseError(
            "no reference database to search: the bundled pack is missing and no --db was given"
        )
    stores = open_for_search(refs)
    try:
        sets = [ReferenceSet(s, SEARCH_KINDS) for s in stores]
        databases = [
            {**describe(s, r), "keypoint_retrieval": ref_set.keypoint_retrieval}
            for s, r, ref_set in zip(stores, refs, sets, strict=True)
        ]
        matcher = Matcher(sets, max_distances)
    except BaseException:
        for store in stores:
            store.close()
        raise
    return References(refs, stores, matcher, databases)
