"""The reference database: sources with their provenance, items, and the hashes of each item.

``records`` holds the plain values, ``database`` the open ``Store``, ``opening`` how a file is
opened, checked and upgraded. Import from here: the split is an implementation detail.
"""

from provcheck.store.database import (
    BULK_CACHE_KIB,
    FEATURE_KIND,
    LEGACY_FEATURE_KINDS,
    PACKED_FEATURE_ITEMS,
    Store,
)
from provcheck.store.opening import bundled_pack_path, default_db_path, open_store
from provcheck.store.records import (
    ItemRecord,
    KindArrays,
    NewItem,
    Region,
    Source,
    SourceInfo,
    StoredHash,
    parse_date,
)

__all__ = [
    "BULK_CACHE_KIB",
    "FEATURE_KIND",
    "LEGACY_FEATURE_KINDS",
    "PACKED_FEATURE_ITEMS",
    "ItemRecord",
    "KindArrays",
    "NewItem",
    "Region",
    "Source",
    "SourceInfo",
    "Store",
    "StoredHash",
    "bundled_pack_path",
    "default_db_path",
    "open_store",
    "parse_date",
]
