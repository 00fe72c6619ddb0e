"""Which databases a command reads and which one it writes, and the references a scan searches.

Scans search exactly the ``--db`` databases (or ``PROVCHECK_DB``) when given; otherwise the bundled
pack plus the user's own database if it exists. Writes go to one database only, never the bundled
pack. A database is a SQLite file or a PostgreSQL server's ``postgresql://`` URL; nothing here
asks which. ``open_references`` opens what a scan searches and builds the matcher over it: the
set-up that the ``scan`` command and the ``serve`` service share; ``References.refresh`` brings it
up to date with what colleagues added since (``serve`` calls it every second).
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
from provcheck.store.locations import Location, as_location
from provcheck.store.server_url import split_locations

ENV_VAR = "PROVCHECK_DB"


@dataclass(frozen=True, slots=True)
class DatabaseRef:
    path: Location  # str() of a server URL is its display form, without the password
    role: str  # "bundled" | "user" | "given"

    @property
    def readonly(self) -> bool:
        return self.role == "bundled"


def _from_env() -> list[Location]:
    """``PROVCHECK_DB``: locations separated by ``os.pathsep`` (a URL's own colons kept)."""
    return [as_location(p) for p in split_locations(os.environ.get(ENV_VAR, ""))]


def search_databases(given: Sequence[Location | str] = ()) -> list[DatabaseRef]:
    explicit = [as_location(g) for g in given] or _from_env()
    if explicit:
        return [DatabaseRef(p, "given") for p in explicit]
    refs = []
    pack = bundled_pack_path()
    if pack.exists():
        refs.append(DatabaseRef(pack, "bundled"))
    user = default_db_path()
    if user.exists():
        refs.append(DatabaseRef(user, "user"))
    return refs


def write_database(given: Sequence[Location | str] = ()) -> Location:
    """The single database that ``db add``/``import``/``remove`` change."""
    explicit = [as_location(g) for g in given] or _from_env()
    if len(explicit) > 1:
        raise UsageError(
            f"this command writes to one database; got {len(explicit)} (--db or {ENV_VAR})"
        )
    return explicit[0] if explicit else default_db_path()


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


def _writable(path: Location) -> bool:
    """A file we may write to (a server is always read as read-only by scans)."""
    return isinstance(path, Path) and os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


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
    #: Each store's ``change_token()`` when its references were loaded.
    tokens: list[object] = field(default_factory=list)

    def refresh(self) -> bool:
        """Reload the references of every database that changed since they were loaded; True if
        any did. Requests already matching keep the sets they started with: the new sets (their
        keypoint index loaded here, not by the next request) replace the old ones in one step."""
        sets = list(self.matcher.sets)
        changed = False
        for i, store in enumerate(self.stores):
            token = store.change_token()
            if token == self.tokens[i]:
                continue
            fresh = ReferenceSet(store, SEARCH_KINDS)
            if fresh.keypoint_retrieval:
                _ = fresh.keypoints
            sets[i], self.tokens[i], changed = fresh, token, True
        if changed:
            self.databases = _described(self.stores, self.refs, sets)
            self.matcher.sets = sets
        return changed

    def close(self) -> None:
        for store in self.stores:
            store.close()

    def __enter__(self) -> References:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _described(
    stores: Sequence[Store], refs: Sequence[DatabaseRef], sets: Sequence[ReferenceSet]
) -> list[dict[str, Any]]:
    return [
        {**describe(s, r), "keypoint_retrieval": ref_set.keypoint_retrieval}
        for s, r, ref_set in zip(stores, refs, sets, strict=True)
    ]


def open_references(
    dbs: Sequence[Location | str] = (), max_distances: Mapping[str, int] | None = None
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
        tokens = [s.change_token() for s in stores]  # before loading: a change meanwhile shows
        sets = [ReferenceSet(s, SEARCH_KINDS) for s in stores]
        matcher = Matcher(sets, max_distances)
    except BaseException:
        for store in stores:
            store.close()
        raise
    return References(refs, stores, matcher, _described(stores, refs, sets), tokens)
