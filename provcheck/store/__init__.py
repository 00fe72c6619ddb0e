"""The reference database: sources with their provenance, items, and the hashes, keypoints and
previews of each item, behind one interface (``Store``) that every backend implements.

``records`` holds the plain values, ``interface`` the ``Store`` protocol, ``locations`` where
databases live and ``open_store``, ``sidecars`` the memory-mapped search arrays of large
databases, and ``sqlite`` the SQLite backend. Import from here: the split is an implementation
detail.
"""

from provcheck.store.interface import Store
from provcheck.store.locations import bundled_pack_path, default_db_path, open_store
from provcheck.store.records import (
    CATEGORIES,
    FEATURE_KIND,
    LEGACY_FEATURE_KINDS,
    ItemRecord,
    KindArrays,
    NewItem,
    PackOrigin,
    Region,
    Source,
    SourceInfo,
    StoredHash,
    parse_date,
    provenance_updates,
)

__all__ = [
    "CATEGORIES",
    "FEATURE_KIND",
    "LEGACY_FEATURE_KINDS",
    "ItemRecord",
    "KindArrays",
    "NewItem",
    "PackOrigin",
    "Region",
    "Source",
    "SourceInfo",
    "Store",
    "StoredHash",
    "bundled_pack_path",
    "default_db_path",
    "open_store",
    "parse_date",
    "provenance_updates",
]
