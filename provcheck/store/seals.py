"""Seals: what each sidecar file held when provcheck wrote it, so a sidecar is used only while it
still holds exactly that.

Sidecar arrays (``store.sidecars``) are trusted by the matcher: arrays of the right shape but the
wrong content would make an exact copy scan ``clean``, and out-of-range values would crash every
scan. Shape checks cannot catch that, so each file's SHA-256 is recorded when provcheck writes the
sidecar, in a seal kept in this user's cache folder: never next to the database, where whoever can
write the sidecar could write its seal too, and never in the database, which scans do not write.
A sidecar whose files do not match their seal (changed, swapped, written by someone else, or with
no seal at all) is rebuilt from the database, the source of truth.

Hashing a gigabyte of keypoint tables at every scan would cost more than the sidecar saves, so a
seal also records each file's identity (device, inode, size, modification and change times): a
file whose identity is unchanged has not been written since it was hashed (a change time cannot
be set back), and only a file whose identity moved is hashed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any

SEAL_VERSION = 1


def seal_folder() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("provcheck", appauthor=False)) / "seals"


def _seal_path(folder: Path, kind: str) -> Path:
    where = f"{Path(folder).resolve()}\x00{kind}".encode("utf-8", "surrogateescape")
    return seal_folder() / f"{hashlib.sha256(where).hexdigest()[:32]}.json"


def _identity(info: os.stat_result) -> list[int]:
    return [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def _digest(path: Path) -> str | None:
    """SHA-256 of a regular file (never through a link), or None if it is not one."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        digest = hashlib.sha256()
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def seal(folder: Path, kind: str, names: list[str]) -> None:
    """Record what the files ``names`` of ``folder`` hold now (just written by provcheck)."""
    files: dict[str, Any] = {}
    for name in names:
        path = folder / name
        digest = _digest(path)
        if digest is None:
            return  # not ours to vouch for
        files[name] = {"sha256": digest, "identity": _identity(path.lstat())}
    _write_seal(_seal_path(folder, kind), {"version": SEAL_VERSION, "files": files})


def verified(folder: Path, kind: str, names: list[str]) -> bool:
    """Whether every file ``names`` of ``folder`` still holds what its seal says."""
    path = _seal_path(folder, kind)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        sealed: dict[str, Any] = record["files"]
        if record.get("version") != SEAL_VERSION or set(sealed) != set(names):
            return False
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    moved = False
    for name in names:
        try:
            info = (folder / name).lstat()
        except OSError:
            return False
        if not stat.S_ISREG(info.st_mode):
            return False
        if _identity(info) == sealed[name].get("identity"):
            continue
        if _digest(folder / name) != sealed[name].get("sha256"):
            return False
        sealed[name]["identity"] = _identity(info)  # same bytes (copied, touched): hashed once
        moved = True
    if moved:
        with contextlib.suppress(OSError):
            _write_seal(path, record)
    return True


def _write_seal(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(tmp, flags, 0o600), "w", encoding="utf-8") as handle:
        json.dump(record, handle, sort_keys=True)
    tmp.replace(path)
