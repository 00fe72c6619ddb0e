"""Search arrays and multi-index tables of large databases, as memory-mapped ``.npy`` sidecars.

A scan of a million-reference database must not parse a million rows, nor rebuild its index, on
every run. For a corpus big enough to get a ``MultiIndex`` (``index.wants_multi_index``) the
arrays a search needs are written once, as plain ``.npy`` files (``allow_pickle=False``: a
sidecar can never run code), and later runs memory-map them: start-up costs a few file opens,
and only the pages a query touches are read. Small databases keep using the ``packed`` table
inside SQLite and never get a sidecar.

Layout, for a database ``refs.sqlite`` (or, when its folder is not writable, e.g. the bundled
pack, in the user cache folder under a name derived from the database's absolute path)::

    refs.sqlite.arrays/
        pdq.json                      manifest: format, version, kind, key, rows, file names
        pdq-<token>.hash_ids.npy      int64 (rows,)       hashes.id, ordered by (item_id, id)
        pdq-<token>.item_ids.npy      int64 (rows,)       hashes.item_id, same order
        pdq-<token>.codes.npy         uint8 (rows, bytes) the packed hash bits
        pdq-<token>.order.npy         int32 (chunks, rows)      MultiIndex.order
        pdq-<token>.starts.npy        int32 (sum of 2**width + 1)  MultiIndex.starts

(``chunks_per_word`` in the manifest, 4 or 3, says how each 64-bit word was cut into chunks.)

The keypoint retrieval index (``keypoint_index.KeypointIndex``) of a database with at least
``KEYPOINT_SIDECAR_MIN_ITEMS`` items with keypoints lives in the same folder::

        orb128.json                     manifest, as above, plus ``items`` (distinct owners)
        orb128-<token>.owners.npy       int64 (rows,)       item owning each retrieval descriptor
        orb128-<token>.descriptors.npy  uint8 (rows, 32)    the retrieval descriptors (ORB)
        orb128-<token>.order.npy        int32 (16, rows)    KeypointIndex.order
        orb128-<token>.starts.npy       int32 (16 * 65537,) KeypointIndex.starts

(``orb128``: ``store.FEATURE_KIND``, named by the keypoints kept per item; the ``orb`` files of
the earlier 64-keypoint layout are deleted when this sidecar is first written.)

The manifest's ``key`` is ``Store.content_key()`` (the database's generation, bumped by a trigger
on every hash insert or delete, plus its last hash row): when it no longer matches, the sidecar
is stale and is rebuilt from SQLite, the source of truth. The folder is derived data: deleting it
is always safe. A fresh key is not enough to be used: every file must also match the seal that
provcheck recorded in the user's cache folder when it wrote them (``store.seals``), so arrays
swapped in by anyone else, however well-formed, are rebuilt rather than trusted. A ``<db>.arrays``
that is a symbolic link is never used, and files are only ever created new, never through a link.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from provcheck.search.hash_index import HammingIndex, LinearIndex, MultiIndex, wants_multi_index
from provcheck.search.keypoint_index import KeypointIndex
from provcheck.signals.hashes import get_hasher
from provcheck.store import seals
from provcheck.store.interface import Store
from provcheck.store.records import FEATURE_KIND, LEGACY_FEATURE_KINDS, KindArrays

FORMAT_NAME = "provcheck-arrays"
FORMAT_VERSION = 1
_ARRAYS = ("hash_ids", "item_ids", "codes", "order", "starts")
_KEYPOINT_ARRAYS = ("owners", "descriptors", "order", "starts")
#: Items with keypoints from which the keypoint index is kept as a sidecar: below, building it
#: takes a few milliseconds and the ``packed`` blob in SQLite holds its descriptors.
KEYPOINT_SIDECAR_MIN_ITEMS = 1_000


def sidecar_dir(db_path: Path) -> Path:
    """Where the sidecar of the database at ``db_path`` lives: next to it when possible, never
    through a symbolic link (a linked ``<db>.arrays`` would have rebuilds write, and delete,
    files wherever it points), else in the user's cache folder."""
    db_path = Path(db_path).resolve()
    beside = db_path.with_name(db_path.name + ".arrays")
    if not beside.is_symlink():
        if beside.is_dir() and os.access(beside, os.W_OK):
            return beside
        if not beside.exists() and os.access(db_path.parent, os.W_OK):
            return beside
    import platformdirs

    digest = hashlib.sha256(str(db_path).encode("utf-8")).hexdigest()[:24]
    return Path(platformdirs.user_cache_dir("provcheck", appauthor=False)) / "arrays" / digest


def load_search(store: Store, kind: str) -> tuple[KindArrays, HammingIndex]:
    """The arrays and the index to search ``kind`` in ``store``: memory-mapped from a fresh
    sidecar, else built from the database (and, for a large corpus, saved for next time)."""
    key = store.content_key()
    folder = sidecar_dir(store.path)
    cached = _load(folder, kind, key)
    if cached is not None:
        return cached
    nbytes = get_hasher(kind).bits // 8
    if not wants_multi_index(store.hash_count(kind), nbytes):
        # Small: the packed blob inside the database is cheap enough, so keep no sidecar.
        arrays = store.kind_arrays(kind)
        return arrays, LinearIndex(arrays.codes)
    arrays = store.kind_arrays(kind)
    index = MultiIndex.build(arrays.codes)
    # A read-only medium or a full disk only costs the next run a rebuild; the scan goes on.
    with contextlib.suppress(OSError):
        _save(folder, kind, key, arrays, index)
    return arrays, index


def load_keypoints(store: Store) -> KeypointIndex:
    """The keypoint retrieval index of ``store``: memory-mapped from a fresh sidecar, else built
    from the database (and, past ``KEYPOINT_SIDECAR_MIN_ITEMS`` items, saved for next time)."""
    small = store.feature_count() < KEYPOINT_SIDECAR_MIN_ITEMS
    key = store.content_key()
    folder = sidecar_dir(store.path)
    if not small:
        found = _read(folder, FEATURE_KIND, key, _KEYPOINT_ARRAYS)
        if found is not None:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                manifest, loaded = found
                if loaded["owners"].dtype == np.dtype("<i8") and loaded["order"].dtype == np.dtype(
                    "<i4"
                ):
                    return KeypointIndex(**loaded, items=int(manifest["items"]))
    arrays = store.kind_arrays(FEATURE_KIND)
    index = KeypointIndex.build(arrays.item_ids, arrays.codes)
    if not small:
        data = {name: getattr(index, name) for name in _KEYPOINT_ARRAYS}
        with contextlib.suppress(OSError):
            _write(folder, FEATURE_KIND, key, data, {"rows": len(index), "items": index.items})
            _remove_legacy(folder)
    return index


def _remove_legacy(folder: Path) -> None:
    """Delete the keypoint sidecars of earlier retrieval layouts (``LEGACY_FEATURE_KINDS``): at
    6-7 KB per reference they would otherwise stay on disk, unread, for good."""
    for kind in LEGACY_FEATURE_KINDS:
        for old in [_manifest_path(folder, kind), *folder.glob(f"{kind}-*.npy")]:
            with contextlib.suppress(OSError):
                old.unlink()


def _created(path: Path) -> BinaryIO:
    """A new file at ``path``, opened for writing: never an existing one, never through a link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    return os.fdopen(os.open(path, flags, 0o644), "wb")


def _manifest_path(folder: Path, kind: str) -> Path:
    return folder / f"{kind}.json"


def _read(
    folder: Path, kind: str, key: dict[str, Any], names: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """The manifest and memory-mapped arrays of a fresh sidecar, or None (missing, stale,
    half-written or foreign: the caller rebuilds from the database)."""
    try:
        manifest = json.loads(_manifest_path(folder, kind).read_text(encoding="utf-8"))
        if (
            manifest.get("format") != FORMAT_NAME
            or manifest.get("version") != FORMAT_VERSION
            or manifest.get("kind") != kind
            or manifest.get("key") != key
        ):
            return None
        sealed = [_manifest_path(folder, kind).name, *(manifest["files"][n] for n in names)]
        if folder.is_symlink() or not seals.verified(folder, kind, sealed):
            return None  # not as provcheck wrote it: rebuilt from the database
        loaded = {
            name: np.load(folder / manifest["files"][name], mmap_mode="r", allow_pickle=False)
            for name in names
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return manifest, loaded


def _load(folder: Path, kind: str, key: dict[str, Any]) -> tuple[KindArrays, MultiIndex] | None:
    found = _read(folder, kind, key, _ARRAYS)
    if found is None:
        return None
    manifest, loaded = found
    try:
        rows = int(manifest["rows"])
        arrays = KindArrays(kind, loaded["hash_ids"], loaded["item_ids"], loaded["codes"])
        if not (
            arrays.hash_ids.shape == arrays.item_ids.shape == (rows,)
            and arrays.codes.shape[0] == rows
            and arrays.hash_ids.dtype == arrays.item_ids.dtype == np.dtype("<i8")
            and arrays.codes.dtype == np.uint8
            and loaded["order"].dtype == loaded["starts"].dtype == np.dtype("<i4")
        ):
            return None
        per_word = int(manifest["chunks_per_word"])
        return arrays, MultiIndex(arrays.codes, loaded["order"], loaded["starts"], per_word)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # foreign: rebuild from the database


def _save(
    folder: Path, kind: str, key: dict[str, Any], arrays: KindArrays, index: MultiIndex
) -> None:
    data = {
        "hash_ids": np.ascontiguousarray(arrays.hash_ids, dtype="<i8"),
        "item_ids": np.ascontiguousarray(arrays.item_ids, dtype="<i8"),
        "codes": np.ascontiguousarray(arrays.codes, dtype=np.uint8),
        "order": np.ascontiguousarray(index.order, dtype="<i4"),
        "starts": np.ascontiguousarray(index.starts, dtype="<i4"),
    }
    extra = {"rows": len(arrays.item_ids), "chunks_per_word": index.per_word}
    _write(folder, kind, key, data, extra)


def _write(
    folder: Path,
    kind: str,
    key: dict[str, Any],
    data: dict[str, np.ndarray],
    extra: dict[str, Any],
) -> None:
    """Write the arrays under fresh names, then switch the manifest over in one rename, so a
    reader sees the old sidecar or the new one, never a mix; then seal what was written
    (``seals``). Nothing is written through a link: the folder must be a real one, and every
    file is created new (an existing name, or a link under it, is an error)."""
    folder.mkdir(parents=True, exist_ok=True)
    if folder.is_symlink() or not folder.is_dir():
        raise OSError(f"{folder}: not a real folder; no sidecar written there")
    token = secrets.token_hex(6)
    files = {name: f"{kind}-{token}.{name}.npy" for name in data}
    for name, array in data.items():
        with _created(folder / files[name]) as handle:
            np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
    manifest = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "kind": kind,
        "key": key,
        **extra,
        "files": files,
    }
    tmp = folder / f"{kind}-{token}.json.tmp"
    with _created(tmp) as handle:
        handle.write(json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8"))
    tmp.replace(_manifest_path(folder, kind))
    seals.seal(folder, kind, [_manifest_path(folder, kind).name, *files.values()])
    # Earlier generations' files: a process still reading them keeps its mapping (POSIX); where
    # the system refuses to delete an open file, the next rebuild tries again.
    for old in folder.glob(f"{kind}-*.npy"):
        if old.name not in files.values():
            with contextlib.suppress(OSError):
                old.unlink()
