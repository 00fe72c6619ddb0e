"""Concurrent writers killed with SIGKILL: does a shared store lose or duplicate anything?

    python benchmarks/team_writers.py [--trials 20] [--writers 4]   (or through benchmarks/team.py)

A trial gives 4 writer processes overlapping work on one fresh database: 24 "videos" of 30
frames (one transaction each, as ``db add`` writes a video) and 1,200 stills (transactions of
200), every video and every still assigned to two writers, so they race on the same items. Items
are synthetic but deterministic (the same key always has the same hashes and keypoints), with
2 hashes and 128 keypoints each. While they run, writers are killed with ``kill -9`` at random
moments (3 kills a trial) and started again at once: a rerun resumes, as a rerun of ``db add``
does. A scanner syncs its mirror throughout. At the end every planned item must be there exactly
once with its hashes and keypoints, every video whole (all 30 frames), no batch left without its
commit number, and the mirror synced during the trial must equal a fresh full read.

The same trial runs on a SQLite file (the baseline: one writer at a time by design).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from provcheck.errors import DatabaseError
from provcheck.signals.hashes import Hash
from provcheck.signals.keypoints import Features
from provcheck.store import KindArrays, SourceInfo, StoredHash, open_store
from provcheck.store.postgres.mirror_files import CACHE_ENV

VIDEOS, FRAMES, STILLS, STILL_BATCH = 24, 30, 1200, 200
KILLS_PER_TRIAL = 3
SOURCE = SourceInfo("Concurrent writers", "footage")


def _content(key: str) -> tuple[list[StoredHash], Features]:
    """The same hashes and keypoints for the same key, whichever writer makes them."""
    rng = np.random.default_rng(int.from_bytes(key.encode(), "little") % 2**63)
    hashes = [StoredHash(Hash("pdq", rng.bytes(32)), 90), StoredHash(Hash("phash", rng.bytes(8)))]
    points = rng.random((128, 2)).astype(np.float32) * 300
    return hashes, Features(points, rng.integers(0, 256, (128, 32), dtype=np.uint8), 320, 240)


def plan(writer: int, writers: int) -> tuple[list[int], list[int]]:
    """Videos and stills of one writer: each assigned to two writers (this one and the next)."""
    videos = [v for v in range(VIDEOS) if v % writers in (writer, (writer + 1) % writers)]
    stills = [s for s in range(STILLS) if (s // 50) % writers in (writer, (writer + 1) % writers)]
    return videos, stills


def write(location: str, writer: int, writers: int) -> None:
    """One writer's whole plan; safe to run again after being killed (it resumes)."""
    videos, stills = plan(writer, writers)
    with open_store(location, create=True) as store:
        with store.transaction():
            source, _ = store.ensure_source(SOURCE)
        for v in videos:
            key = f"video-{v}"
            if store.count_items(source, key):
                continue  # as add_video: a stored video is not redone
            with store.transaction():
                for f in range(FRAMES):
                    hashes, features = _content(f"{key}@{f}")
                    item, added = store.add_item(
                        source, origin=key, item_key=key, frame_time=f * 0.5, hashes=hashes
                    )
                    if added:
                        store.put_features(item, features)
        for start in range(0, len(stills), STILL_BATCH):
            with store.transaction():
                for s in stills[start : start + STILL_BATCH]:
                    hashes, features = _content(f"still-{s}")
                    item, added = store.add_item(
                        source, origin=f"still-{s}", item_key=f"still-{s}", hashes=hashes
                    )
                    if added:
                        store.put_features(item, features)


@dataclass
class TrialResult:
    kills: int = 0
    seconds: float = 0.0
    lost: int = 0
    duplicated: int = 0
    half_videos: int = 0
    missing_parts: int = 0
    mirror_equal: bool = True
    problems: list[str] = field(default_factory=list)


def _spawn(location: str, writer: int, writers: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, "write", location, str(writer), str(writers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def trial(location: str, reader: str, writers: int, rng: random.Random) -> TrialResult:
    """Run the writers, kill some mid-way, restart them, and check what the store holds."""
    result = TrialResult()
    began = time.perf_counter()
    procs = {w: _spawn(location, w, writers) for w in range(writers)}
    kill_at = sorted(rng.uniform(0.2, 2.5) for _ in range(KILLS_PER_TRIAL))
    scanner = None
    while any(p.poll() is None for p in procs.values()) or kill_at:
        now = time.perf_counter() - began
        if kill_at and now >= kill_at[0]:
            kill_at.pop(0)
            running = [w for w, p in procs.items() if p.poll() is None]
            if running:
                victim = rng.choice(running)
                os.kill(procs[victim].pid, signal.SIGKILL)
                procs[victim].wait()
                result.kills += 1
                procs[victim] = _spawn(location, victim, writers)  # the rerun resumes
        if scanner is None:
            scanner = _open_scanner(reader)
        if scanner is not None:
            scanner.search_index("pdq")  # the mirror follows the writers as they commit
        time.sleep(0.05)
    result.seconds = time.perf_counter() - began
    for w, p in procs.items():
        if p.returncode != 0:
            result.problems.append(
                f"writer {w} failed: {p.stderr.read()[-300:] if p.stderr else ''}"
            )
    _check(location, reader, scanner, writers, result)
    if scanner is not None:
        scanner.close()
    return result


def _open_scanner(reader: str):  # noqa: ANN202 - a Store or None before the first commit
    try:
        return open_store(reader, readonly=True)
    except DatabaseError:  # the first writer has not created it yet
        return None


def _check(location: str, reader: str, scanner, writers: int, result: TrialResult) -> None:  # noqa: ANN001
    planned = {f"video-{v}" for v in range(VIDEOS)} | {f"still-{s}" for s in range(STILLS)}
    with open_store(location, readonly=True) as store:
        source = store.find_source(SOURCE.label)
        items = store.items(source_id=source.id, with_hashes=True) if source else []
        features = store.features([i.id for i in items])
        identities = [(i.item_key, i.frame_time) for i in items]
        result.duplicated = len(identities) - len(set(identities))
        per_key: dict[str, int] = {}
        for key, _t in set(identities):
            per_key[key] = per_key.get(key, 0) + 1
        result.lost = sum(
            (FRAMES if key.startswith("video") else 1) - min(per_key.get(key, 0), FRAMES)
            for key in planned
        )
        result.half_videos = sum(
            1 for k, n in per_key.items() if k.startswith("video") and n != FRAMES
        )
        result.missing_parts = sum(1 for i in items if len(i.hashes) != 2 or i.id not in features)
        if scanner is not None:
            synced = scanner.search_index("pdq")[0]
            whole = fresh_arrays(reader)
            result.mirror_equal = bool(
                np.array_equal(synced.hash_ids, whole.hash_ids)
                and np.array_equal(np.asarray(synced.codes), np.asarray(whole.codes))
            )


def fresh_arrays(reader: str) -> KindArrays:
    """The PDQ search arrays read afresh (for a server store: a new mirror, in a new folder)."""
    before = os.environ.get(CACHE_ENV)
    with tempfile.TemporaryDirectory() as folder:
        os.environ[CACHE_ENV] = folder
        try:
            with open_store(reader, readonly=True) as store:
                a = store.search_index("pdq")[0]
                return KindArrays(
                    a.kind, np.array(a.hash_ids), np.array(a.item_ids), np.array(a.codes)
                )
        finally:
            if before is None:
                os.environ.pop(CACHE_ENV, None)
            else:
                os.environ[CACHE_ENV] = before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write")
    w.add_argument("location")
    w.add_argument("writer", type=int)
    w.add_argument("writers", type=int)
    args = parser.parse_args()
    if args.command == "write":
        write(args.location, args.writer, args.writers)


if __name__ == "__main__":
    main()
