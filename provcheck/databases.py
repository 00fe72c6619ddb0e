"""Which databases a command reads and which one it writes.

Scans search exactly the ``--db`` files (or ``PROVCHECK_DB``) when given; otherwise the bundled pack
plus the user's own database if it exists. Writes go to one database only, never the bundled pack.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from provcheck.errors import UsageError
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
