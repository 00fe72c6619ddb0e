"""The robustness benchmark's worker side: one process per code version, building that version's
reference database and answering queries with it, as ``provcheck scan`` would.

A worker may run another checkout of provcheck (``--baseline DIR``): its initializer puts that
checkout first on ``sys.path`` before anything imports provcheck, so the same queries meet the
code under test and the code before it in one run, under the same load. Only the public
services are called (``add_files``, ``hash_bytes`` and ``judge``), so a query's
status is decided exactly as a scan decides it.
"""

from __future__ import annotations

import ast
import importlib
import io
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from transforms import TRANSFORMS

#: Query job: (edit name, seed, picture path, picture key).
Job = tuple[str, int, str, str]

_STATE: dict[str, Any] = {}


def use_code(code: str | None, settings: tuple[str, ...] = ()) -> None:
    """Process initializer: import provcheck from ``code`` (a checkout's root) when given, and
    apply ``settings`` (``package.module:NAME=value``, value a Python literal): experiments with
    a constant without editing the code."""
    if code:
        sys.path.insert(0, code)
    import cv2

    cv2.setNumThreads(1)
    import provcheck

    _STATE["code"] = str(Path(provcheck.__file__).resolve().parents[1])
    for setting in settings:
        target, value = setting.split("=", 1)
        module, name = target.split(":")
        setattr(importlib.import_module(module), name, ast.literal_eval(value))


def build(db: str, paths: list[str], jobs: int) -> dict[str, Any]:
    """Add ``paths`` to a fresh database at ``db`` with this process's provcheck, as
    ``provcheck db add`` does by default (previews on); what was stored and what it cost."""
    from provcheck import store as store_module
    from provcheck.services.ingest import add_files
    from provcheck.store import SourceInfo, open_store

    with open_store(Path(db), create=True) as store:
        report = add_files(
            store,
            SourceInfo("benchmark", "game"),
            [Path(p) for p in paths],
            jobs=jobs,
            thumbnails=True,
        )
        origins = {r.id: r.origin for r in store.items()}
        in_memory, hashes = 0, {}
        kinds = ("pdq", "phash", store_module.FEATURE_KIND)
        for kind in (*kinds, *getattr(store_module, "EXTRA_FEATURE_KINDS", ())):
            try:
                arrays = store.kind_arrays(kind)
            except (KeyError, ValueError):
                continue
            in_memory += arrays.codes.nbytes + arrays.item_ids.nbytes
            if kind in ("pdq", "phash"):
                hashes[kind] = (np.array(arrays.codes), np.array(arrays.item_ids))
    return {
        "code": _STATE.get("code"),
        "added": report.added,
        "errors": list(report.errors),
        "origins": origins,
        "hashes": hashes,
        "bytes": Path(db).stat().st_size,
        "in_memory": in_memory,
    }


def _matcher(db: str) -> Any:
    if _STATE.get("db") != db:
        from provcheck.matching.matcher import Matcher
        from provcheck.matching.references import ReferenceSet
        from provcheck.store import open_store

        _STATE["matcher"] = Matcher(
            [ReferenceSet(open_store(Path(db), readonly=True), ("pdq", "phash"))]
        )
        _STATE["db"] = db
    return _STATE["matcher"]


def edited_png(job: Job) -> bytes:
    """The query file of ``job``: its picture through its edit (seeded), as PNG bytes."""
    name, seed, path, _key = job
    with Image.open(path) as image:
        edited = TRANSFORMS[name](image.convert("RGB"), np.random.default_rng(seed))
    buffer = io.BytesIO()
    edited.save(buffer, format="PNG", compress_level=1)  # lossless: only faster to write
    return buffer.getvalue()


def query(db: str, job: Job, plain: bool) -> dict[str, Any]:
    """One query through ``hash_bytes`` and ``judge``: status, first match, time
    (decode to verdict), and when ``plain`` the whole picture's plain pHash and PDQ."""
    from provcheck.matching.verdict import judge
    from provcheck.services.scan import hash_bytes

    matcher = _matcher(db)
    data = edited_png(job)
    started = time.perf_counter()
    result = judge(hash_bytes(data, job[3]), matcher, limit=1)
    elapsed = time.perf_counter() - started
    best = result.matches[0] if result.matches else None
    out: dict[str, Any] = {
        "status": result.status,
        "origin": best.item.origin if best else None,
        "seconds": elapsed,
        "confidence": best.confidence if best else 0.0,
        "quality": result.quality,
        "inliers": best.inliers if best else 0,
        "distances": dict(best.distances) if best else {},
    }
    if plain:
        import imagehash

        from provcheck.media.images import decode_image
        from provcheck.signals.hashes import PdqHasher

        image = decode_image(data, job[3]).image
        out["plain"] = {
            "pdq": PdqHasher().compute(image).bits,
            "phash": np.packbits(imagehash.phash(image).hash.flatten()).tobytes(),
        }
    return out
