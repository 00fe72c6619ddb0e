"""The on-disk form of a PostgreSQL store's local mirror: plain ``.npy`` arrays (memory-mapped,
``allow_pickle=False``: a mirror file can never run code) and one JSON manifest naming them.

A sync writes its new arrays under fresh names, then switches the manifest in one rename, so a
reader sees the old mirror or the new one, never a mix; files no manifest names are deleted
afterwards (a process still reading one keeps its mapping, POSIX). An exclusive lock on the folder
keeps two processes of one machine from syncing it at once. The folder is derived data: deleting
it costs one full fetch from the server.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_NAME = "provcheck-mirror"
FORMAT_VERSION = 1
#: Environment variable naming the folder mirrors are kept in (default: the user cache folder).
CACHE_ENV = "PROVCHECK_CACHE_DIR"


class DamagedMirrorError(Exception):
    """A mirror file is missing, truncated or not what its manifest says: fetch everything."""


def mirror_folder(host: str, port: str, dbname: str, store_id: str) -> Path:
    """The folder of one database's mirror: one per server, database and store identity (a
    re-created database gets a new store id, hence a fresh mirror)."""
    root = os.environ.get(CACHE_ENV)
    if root:
        base = Path(root)
    else:
        import platformdirs

        base = Path(platformdirs.user_cache_dir("provcheck", appauthor=False))
    key = "\n".join((host, port, dbname, store_id)).encode("utf-8")
    return base / "mirrors" / hashlib.sha256(key).hexdigest()[:24]


class MirrorFolder:
    """Reads and writes of one mirror folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def manifest(self, store_id: str) -> dict[str, Any] | None:
        """The current manifest, or None when there is none or it is not one of ours."""
        try:
            data = json.loads((self.path / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if (
            not isinstance(data, dict)
            or data.get("format") != FORMAT_NAME
            or data.get("version") != FORMAT_VERSION
            or data.get("store_id") != store_id
        ):
            return None
        return data

    def load(self, files: dict[str, str], shapes: dict[str, list[int]]) -> dict[str, np.ndarray]:
        """Memory-map the named arrays, checking each against the shape the manifest recorded."""
        out: dict[str, np.ndarray] = {}
        try:
            for name, file in files.items():
                if Path(file).name != file:
                    raise DamagedMirrorError(f"{file}: not a file of this folder")
                array = np.load(self.path / file, mmap_mode="r", allow_pickle=False)
                if list(array.shape) != list(shapes[name]):
                    raise DamagedMirrorError(
                        f"{file}: shape {array.shape}, expected {shapes[name]}"
                    )
                out[name] = array
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DamagedMirrorError(str(exc)) from None
        return out

    def save(
        self, prefix: str, data: dict[str, np.ndarray]
    ) -> tuple[dict[str, str], dict[str, list[int]]]:
        """Write arrays under fresh names; returns (file names, shapes) for the manifest."""
        token = secrets.token_hex(6)
        files: dict[str, str] = {}
        shapes: dict[str, list[int]] = {}
        for name, array in data.items():
            files[name] = f"{prefix}-{token}.{name}.npy"
            np.save(self.path / files[name], np.ascontiguousarray(array), allow_pickle=False)
            shapes[name] = list(array.shape)
        return files, shapes

    def commit(self, manifest: dict[str, Any]) -> None:
        """Switch to ``manifest`` in one rename, then delete the files it no longer names."""
        body = {"format": FORMAT_NAME, "version": FORMAT_VERSION, **manifest}
        tmp = self.path / f"manifest-{secrets.token_hex(6)}.tmp"
        tmp.write_text(json.dumps(body, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(self.path / "manifest.json")
        named = set(_file_names(body))
        for old in self.path.glob("*.npy"):
            if old.name not in named:
                with contextlib.suppress(OSError):
                    old.unlink()


def _file_names(value: Any) -> Iterator[str]:
    """Every ``files`` entry anywhere in a manifest."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "files" and isinstance(item, dict):
                yield from (str(v) for v in item.values())
            else:
                yield from _file_names(item)
    elif isinstance(value, list):
        for item in value:
            yield from _file_names(item)
