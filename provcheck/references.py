"""Open the databases a scan searches and build their matcher: one place for the set-up that the
``scan`` command and the ``serve`` service share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provcheck.databases import DatabaseRef, describe, open_for_search, search_databases
from provcheck.errors import DatabaseError
from provcheck.matcher import Matcher, ReferenceSet
from provcheck.store import Store

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
