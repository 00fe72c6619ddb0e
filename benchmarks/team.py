"""A newsroom team on one reference store: the figures of issue 16, each against a baseline
measured in the same run.

    python benchmarks/team.py [--sections writers,scan,pickup,ingest] [--trials 20]
                              [--items 100000] [--queries 40] [--rounds 2] [--work DIR]

It starts a throwaway PostgreSQL server of its own (tests/postgres_cluster.py: PostgreSQL's
binaries, run as the ``postgres`` account when started as root) with the README's roles.

- **writers**: 4 concurrent writers, ``--trials`` kill -9 trials (benchmarks/team_writers.py):
  items lost, duplicated, half-written videos, and whether a scanner's mirror synced during the
  trial equals a fresh read. Baseline: the same trials on a SQLite file.
- **scan**: the crop-search corpus of benchmarks/crop_scale.py (``--items`` references: real
  devset frames plus references derived from them; cached in ``--work``), copied into
  PostgreSQL; scan latency of the same crop queries through the scanner role (a mirror synced
  on open) against the SQLite file, alternating query by query: p50 and the ratio. Also the
  whole ``provcheck scan`` command on one picture, alternating (start-up included).
- **pickup**: 1,000 new references committed by a curator: what the scanner's next sync costs
  (fetch + apply + indexes), three times; against the SQLite file's cost of the same change
  (its sidecar rebuilt at the next scan). Then, ``serve``-style (references refreshed every
  second), the seconds from a curator's commit until a new picture is matched.
- **ingest**: ``provcheck db add`` of the devset videos in one process against ``--cluster
  local -j 2`` (LocalCluster start-up included), alternating, ``--rounds`` pairs.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEVSET = ROOT.parent / "shared" / "devset"  # a clone beside ../shared, as .ci/run has it
sys.path[:0] = [str(ROOT), str(HERE)]

import crop_scale  # noqa: E402  (benchmarks/ is not a package)
import team_writers  # noqa: E402

from provcheck.store import SourceInfo, StoredHash, open_store  # noqa: E402
from tests.postgres_cluster import PostgresCluster, start_cluster, stop_cluster  # noqa: E402


def _load() -> str:
    """The machine's load averages (1, 5, 15 min): how many others wanted the 2 cores."""
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _spread(xs: list[float], unit: str = "", scale: float = 1.0) -> str:
    v = [x * scale for x in xs]
    return (
        f"median {statistics.median(v):.3g}{unit} (min {min(v):.3g}, max {max(v):.3g}, n={len(v)})"
    )


# -- writers ---------------------------------------------------------------------------------------


def bench_writers(cluster: PostgresCluster, trials: int, work: Path) -> None:
    print(f"\n== 4 concurrent writers, {trials} kill -9 trials each ({_load()}) ==")
    rng = random.Random(16)
    for name in ("postgresql", "sqlite"):
        totals = team_writers.TrialResult()
        seconds, equal = [], 0
        for t in range(trials):
            if name == "postgresql":
                db = cluster.create_database()
                location, reader = db.curator, db.scanner
                with open_store(db.owner, create=True):
                    pass  # the owner creates the schema (db init)
            else:
                location = reader = str(work / f"writers-{t}.sqlite")
            r = team_writers.trial(location, reader, 4, rng)
            seconds.append(r.seconds)
            equal += r.mirror_equal
            for f in ("kills", "lost", "duplicated", "half_videos", "missing_parts"):
                setattr(totals, f, getattr(totals, f) + getattr(r, f))
            for problem in r.problems:
                print(f"  trial {t}: {problem}")
            if name == "postgresql":
                cluster.drop_database(db.name)
        items = team_writers.VIDEOS * team_writers.FRAMES + team_writers.STILLS
        print(
            f"{name:>10}: {trials} trials, {totals.kills} writers killed; lost {totals.lost},"
            f" duplicated {totals.duplicated}, half videos {totals.half_videos}, items missing"
            f" hashes or keypoints {totals.missing_parts}; mirror equal to a fresh read in"
            f" {equal}/{trials}; trial wall {_spread(seconds, ' s')} for {items} items"
        )


# -- scan at scale ---------------------------------------------------------------------------------


def copy_store(source: Path, target: str) -> float:
    """Every source, item, hash and keypoint of a SQLite file into another store, through the
    Store interface; returns the seconds it took."""
    began = time.perf_counter()
    with open_store(source, readonly=True) as src, open_store(target, create=True) as dst:
        with dst.transaction():
            ids = {s.id: dst.ensure_source(s.info)[0] for s in src.sources()}
        records = src.iter_items_with_hashes(2000)
        while batch := [r for _, r in zip(range(2000), records, strict=False)]:
            features = src.features([r.id for r in batch])
            with dst.transaction():
                for r in batch:
                    item, added = dst.add_item(
                        ids[r.source_id],
                        origin=r.origin,
                        item_key=r.item_key,
                        hashes=r.hashes,
                        sha256=r.sha256,
                        width=r.width,
                        height=r.height,
                        frame_time=r.frame_time,
                    )
                    if added and r.id in features:
                        dst.put_features(item, features[r.id])
    return time.perf_counter() - began


def _scan_once(references, data: bytes) -> tuple[float, int | None]:  # noqa: ANN001
    from provcheck.media.images import decode_image
    from provcheck.signals.fingerprint import query_fingerprint

    began = time.perf_counter()
    matches = references.matcher.match(query_fingerprint(decode_image(data, "q.jpg").image), 5)
    return time.perf_counter() - began, (matches[0].item.id if matches else None)


def bench_scan(db, corpus: Path, queries: list, rounds: int, work: Path) -> None:  # noqa: ANN001
    from provcheck.services.databases import open_references

    items = int(corpus.stem.split("-")[1])
    print(f"\n== scan at {items:,} references: PostgreSQL (scanner role) vs SQLite ({_load()}) ==")
    copied = copy_store(corpus, db.owner)
    print(f"copied into PostgreSQL through the Store interface in {copied:.0f} s")
    began = time.perf_counter()
    pg = open_references([db.scanner])
    _ = pg.matcher.sets[0].keypoints
    print(
        f"first open of a scanner on a new machine (full fetch into its mirror): "
        f"{time.perf_counter() - began:.1f} s"
    )
    began = time.perf_counter()
    again = open_references([db.scanner])
    _ = again.matcher.sets[0].keypoints
    print(
        f"later opens (mirror current: one query, memory-mapped files): "
        f"{time.perf_counter() - began:.2f} s"
    )
    again.close()
    sq = open_references([str(corpus)])
    _ = sq.matcher.sets[0].keypoints
    for refs in (pg, sq):
        _scan_once(refs, queries[0][1])  # warm
    times: dict[str, list[float]] = {"postgresql": [], "sqlite": []}
    same = 0
    for r in range(rounds):
        for i, (_q, data) in enumerate(queries):
            order = [("postgresql", pg), ("sqlite", sq)]
            if (i + r) % 2:
                order.reverse()
            firsts = {}
            for name, refs in order:
                seconds, first = _scan_once(refs, data)
                times[name].append(seconds)
                firsts[name] = first
            same += firsts["postgresql"] == firsts["sqlite"]
    ratios = [a / b for a, b in zip(times["postgresql"], times["sqlite"], strict=True)]
    for name in ("postgresql", "sqlite"):
        print(f"{name:>10}: scan of one crop query {_spread(times[name], ' ms', 1000)}")
    p50 = statistics.median(times["postgresql"]) / statistics.median(times["sqlite"])
    print(f"     ratio: p50 PostgreSQL / p50 SQLite = {p50:.2f}; per query pair {_spread(ratios)}")
    print(f"same first match on both: {same}/{len(ratios)} scans")
    pg.close()
    sq.close()
    picture = work / "query.jpg"
    picture.write_bytes(queries[0][1])
    cli = {"postgresql": [], "sqlite": []}
    for i in range(6):
        for name, location in sorted(
            {"postgresql": db.scanner, "sqlite": str(corpus)}.items(), reverse=bool(i % 2)
        ):
            began = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "provcheck",
                    "scan",
                    str(picture),
                    "--db",
                    location,
                    "--fail-on",
                    "never",
                    "--jobs",
                    "1",
                ],
                check=True,
                capture_output=True,
            )
            cli[name].append(time.perf_counter() - began)
    for name in ("postgresql", "sqlite"):
        print(f"{name:>10}: whole `provcheck scan` of one picture {_spread(cli[name], ' s')}")
    ratio = statistics.median(cli["postgresql"]) / statistics.median(cli["sqlite"])
    print(f"     ratio: {ratio:.2f}")


# -- pickup ---------------------------------------------------------------------------------------


def _new_references(corpus: Path, n: int, seed: int) -> list[tuple[StoredHash, StoredHash, object]]:
    """``n`` references derived (as crop_scale derives them) from random corpus items."""
    from provcheck.signals.hashes import Hash

    rng = np.random.default_rng(seed)
    with open_store(corpus, readonly=True) as store:
        count = store.counts()["items"]
        picked = [int(i) for i in rng.integers(1, min(count, 1901) + 1, n)]
        records = {r.id: r for r in store.items(sorted(set(picked)), with_hashes=True)}
        features = store.features(records)
    out = []
    for i in picked:
        r = records[i]
        bits = {h.hash.kind: h.hash.bits for h in r.hashes}
        frame = {"features": features[i].to_blob(), "pdq": bits["pdq"], "phash": bits["phash"]}
        f, pdq, phash = crop_scale.derived(frame, rng)
        out.append((StoredHash(Hash("pdq", pdq), 100), StoredHash(Hash("phash", phash)), f))
    return out


def _commit(location: str, refs: list, tag: str) -> None:
    with open_store(location) as store, store.transaction():
        source, _ = store.ensure_source(SourceInfo(f"Added later {tag}", "game"))
        for k, (pdq, phash, features) in enumerate(refs):
            item, _ = store.add_item(
                source, origin=f"{tag}#{k}", item_key=f"{tag}:{k}", hashes=[pdq, phash]
            )
            store.put_features(item, features)


def _catch_up(store) -> float:  # noqa: ANN001
    began = time.perf_counter()
    store.search_index("pdq")
    store.search_index("phash")
    store.keypoint_index()
    return time.perf_counter() - began


def bench_pickup(db, corpus: Path, work: Path, n: int = 1000) -> None:  # noqa: ANN001
    import shutil

    from provcheck.services.databases import open_references
    from tests.conftest import encode, synthetic_picture

    print(f"\n== picking up {n:,} new references committed by a curator ({_load()}) ==")
    scanner = open_store(db.scanner, readonly=True)
    _catch_up(scanner)
    copy = work / "pickup.sqlite"
    shutil.copy(corpus, copy)
    with open_store(copy, readonly=True) as warm:
        _catch_up(warm)  # its sidecar, built before the change (not timed)
    pg, sq = [], []
    for r in range(3):
        refs = _new_references(corpus, n, seed=100 + r)
        _commit(db.curator, refs, f"pg{r}")
        pg.append(_catch_up(scanner))
        _commit(str(copy), refs, f"sq{r}")
        with open_store(copy, readonly=True) as store:
            sq.append(_catch_up(store))
    scanner.close()
    print(f"PostgreSQL, the scanner's next sync (fetch, apply, indexes): {_spread(pg, ' s')}")
    print(f"SQLite, the next scan's rebuild of the search arrays and sidecars: {_spread(sq, ' s')}")
    print(f"     ratio: {statistics.median(pg) / statistics.median(sq):.3f}")
    references = open_references([db.scanner])
    stop = threading.Event()

    def refresh() -> None:  # what `provcheck serve` does every second
        while not stop.wait(1.0):
            references.refresh()

    thread = threading.Thread(target=refresh, daemon=True)
    thread.start()
    waits = []
    try:
        for seed in range(3):
            picture = work / f"new-{seed}.jpg"
            picture.write_bytes(encode(synthetic_picture(9000 + seed, (640, 480))))
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "provcheck",
                    "db",
                    "add",
                    str(picture),
                    "--label",
                    f"Breaking {seed}",
                    "--category",
                    "footage",
                    "--db",
                    db.curator,
                    "-j",
                    "1",
                ],
                check=True,
                capture_output=True,
            )
            committed = time.perf_counter()
            assert result.returncode == 0
            while not references.matcher.match(_fingerprint(picture), 1):
                time.sleep(0.05)
            waits.append(time.perf_counter() - committed)
    finally:
        stop.set()
        thread.join()
        references.close()
    print(
        f"serve-style (references refreshed every 1 s): a new picture matchable "
        f"{_spread(waits, ' s')} after its `db add` returned"
    )


def _fingerprint(picture: Path):  # noqa: ANN202
    from provcheck.media.images import load_image
    from provcheck.signals.fingerprint import query_fingerprint

    return query_fingerprint(load_image(picture).image)


# -- ingest ---------------------------------------------------------------------------------------


def bench_writer(db, work: Path, devset: Path) -> None:  # noqa: ANN001
    """How fast one writer stores hashed video frames: the ceiling of one ``db add --cluster``."""
    from provcheck.media.split import WHOLE
    from provcheck.services.video_ingest import hash_segment, merge_segments, store_video

    open_store(db.owner, create=True).close()  # db init, by the owner
    hashed = []
    for video in sorted((devset / "videos").glob("*.mp4")):
        part = hash_segment(video, WHOLE)
        hashed.append((video, *merge_segments(video, part.facts.sha256, [part])))
    frames = sum(len(h[2]) for h in hashed)
    fresh = Path(tempfile.mkdtemp(dir=work))  # never a database a previous run filled
    for name, location in (("postgresql", db.curator), ("sqlite", str(fresh / "writer.sqlite"))):
        with open_store(location, create=True) as store:
            with store.transaction():
                source, _ = store.ensure_source(SourceInfo("Writer capacity", "game"))
            began = time.perf_counter()
            for video, facts, kept in hashed:
                store_video(store, source, str(video), facts, kept)
            seconds = time.perf_counter() - began
        print(
            f"{name:>10}: one writer stores {frames} hashed frames (5 videos, 5 transactions)"
            f" in {seconds:.2f} s: {frames / seconds:,.0f} frames/s"
        )


def bench_ingest(work: Path, rounds: int, devset: Path) -> None:
    videos = devset / "videos"
    print(
        f"\n== ingest of the devset videos ({len(list(videos.glob('*.mp4')))} files): one process"
        f" vs --cluster local -j 2, and db add --jobs 2 on this machine ({_load()}) =="
    )
    variants = {
        "one process": ["-j", "1"],
        "cluster of 2": ["--cluster", "local", "-j", "2"],
        "db add -j 2": ["-j", "2"],
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    cpus: dict[str, list[float]] = {name: [] for name in variants}
    fresh = Path(tempfile.mkdtemp(dir=work))  # never a database a previous run filled
    for r in range(rounds):
        order = list(enumerate(variants.items()))
        order = order[r % 3 :] + order[: r % 3]  # each variant first once in three rounds
        for n, (name, extra) in order:
            # A database of its own per variant and round: never one another variant filled.
            wall, cpu = _add_measured(videos, fresh / f"ingest-{r}-{n}.sqlite", extra)
            times[name].append(wall)
            cpus[name].append(cpu)
            print(f"  round {r + 1}: {name} {wall:.1f} s ({cpu:.1f} CPU-s)", flush=True)
    for name, xs in times.items():
        print(f"{name:>14}: {_spread(xs, ' s')}")
    for name in ("cluster of 2", "db add -j 2"):
        ratios = [a / b for a, b in zip(times["one process"], times[name], strict=True)]
        print(f"  speed-up of {name} over one process: {_spread(ratios, 'x')}")
    # The bound: a run cannot take less wall time than its CPU seconds spread over every core,
    # so one process's time over that is the most this machine could show for that variant.
    cores = len(os.sched_getaffinity(0))
    for name in ("cluster of 2", "db add -j 2"):
        bound = [a / (c / cores) for a, c in zip(times["one process"], cpus[name], strict=True)]
        print(
            f"  {name}: {_spread(cpus[name], ' CPU-s')} (one process"
            f" {statistics.median(cpus['one process']):.1f}); the most {cores} cores could give"
            f" with that work: {_spread(bound, 'x')}"
        )
    _ingest_phases(sorted(videos.glob("*.mp4")), rounds)
    _ingest_running_cluster(videos, rounds, fresh)


def _ingest_running_cluster(videos: Path, rounds: int, fresh: Path) -> None:
    """The deployment the README describes: a scheduler and 2 workers already running (`dask
    scheduler`, `dask worker --nworkers 2 --nthreads 1`), so no run pays their start-up."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).with_name("dask"))
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], **quiet
    )
    workers = subprocess.Popen(
        [dask, "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"], **quiet
    )
    try:
        first = sorted(videos.glob("*.mp4"))[2]  # warm the workers: their imports, once
        _add(first, fresh / "warm.sqlite", ["--cluster", address])
        times: dict[str, list[float]] = {"one process": [], "running cluster": []}
        for r in range(rounds):
            runs = [("one process", ["-j", "1"]), ("running cluster", ["--cluster", address])]
            if r % 2:
                runs.reverse()
            for name, extra in runs:
                times[name].append(_add(videos, fresh / f"run-{r}-{name[0]}.sqlite", extra))
        for name, xs in times.items():
            print(f"{name:>16}: {_spread(xs, ' s')}")
        speedups = [
            a / b for a, b in zip(times["one process"], times["running cluster"], strict=True)
        ]
        print(f"  speed-up with 2 workers already running: {_spread(speedups, 'x')}")
    finally:
        for proc in (workers, scheduler):
            proc.terminate()
            proc.wait(timeout=60)


def _add(path: Path, db: Path, extra: list[str]) -> float:
    return _add_measured(path, db, extra)[0]


def _add_measured(path: Path, db: Path, extra: list[str]) -> tuple[float, float]:
    """One ``db add`` as a user runs it: (wall seconds, CPU seconds of it and its workers)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "provcheck",
            "db",
            "add",
            str(path),
            "--label",
            "devset",
            "--category",
            "game",
            "--db",
            str(db),
            *extra,
        ],
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _ingest_phases(videos: list[Path], rounds: int) -> None:
    """Where a `--cluster local -j 2` run spends its time, next to the hashing of one process."""
    from provcheck.media.split import WHOLE
    from provcheck.services.cluster import cluster_client
    from provcheck.services.video_ingest import hash_segment

    phases: dict[str, list[float]] = {
        "start": [],
        "hash 2": [],
        "close": [],
        "hash 1": [],
        "pool": [],
    }
    largest_first = sorted(videos, key=lambda v: v.stat().st_size, reverse=True)
    for _ in range(rounds):
        began = time.perf_counter()
        for v in videos:
            hash_segment(v, WHOLE, thumbnails=True)
        phases["hash 1"].append(time.perf_counter() - began)
        with ProcessPoolExecutor(2) as pool:  # the yardstick: what 2 processes get here, now
            list(pool.map(_hash_one, largest_first[:2]))  # started and warmed, not timed
            began = time.perf_counter()
            list(pool.map(_hash_one, largest_first))
            phases["pool"].append(time.perf_counter() - began)
        began = time.perf_counter()
        with cluster_client("local", 2) as client:
            started = time.perf_counter()
            tasks = [
                client.submit(hash_segment, v, WHOLE, thumbnails=True, pure=False)
                for v in largest_first
            ]
            for task in tasks:
                task.result()
            hashed = time.perf_counter()
        phases["start"].append(started - began)
        phases["hash 2"].append(hashed - started)
        phases["close"].append(time.perf_counter() - hashed)
    print(f"  LocalCluster(2) start-up and version check: {_spread(phases['start'], ' s')}")
    print(f"  hashing the five videos, one process: {_spread(phases['hash 1'], ' s')}")
    print(f"  hashing the five videos, 2 workers:   {_spread(phases['hash 2'], ' s')}")
    print(f"  closing the cluster: {_spread(phases['close'], ' s')}")
    ratios = [a / b for a, b in zip(phases["hash 1"], phases["hash 2"], strict=True)]
    print(f"  hashing phase speed-up: {_spread(ratios, 'x')}")
    ratios = [a / b for a, b in zip(phases["hash 1"], phases["pool"], strict=True)]
    print(f"  yardstick, a plain process pool of 2 on the same videos: {_spread(ratios, 'x')}")


def _hash_one(video: Path) -> int:
    from provcheck.media.split import WHOLE
    from provcheck.services.video_ingest import hash_segment

    return len(hash_segment(video, WHOLE, thumbnails=True).frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default="writers,scan,pickup,ingest")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--work", type=Path, help="folder for the corpus (default: temp)")
    parser.add_argument("--devset", type=Path, default=DEVSET)
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    work = args.work or Path(tempfile.mkdtemp(prefix="provcheck-team-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PROVCHECK_CACHE_DIR", str(work / "mirrors"))
    import cv2

    cv2.setNumThreads(1)
    cluster = start_cluster()
    print(f"throwaway PostgreSQL server started in {cluster.start_seconds:.1f} s")
    try:
        if "writers" in sections:
            bench_writers(cluster, args.trials, work)
        if sections & {"scan", "pickup"}:
            corpus = crop_scale.build_corpus(args.devset, work, args.items, args.queries, args.jobs)
            db = cluster.create_database("scale")
            import json

            meta = json.loads(corpus.with_suffix(".json").read_text())
            queries = crop_scale.make_queries(args.devset, work, meta, seed=5)
            if "scan" in sections:
                bench_scan(db, corpus, queries, args.rounds, work)
            else:
                copy_store(corpus, db.owner)
            if "pickup" in sections:
                bench_pickup(db, corpus, work)
        if "ingest" in sections:
            print("\n== one writer, the ceiling of one `db add --cluster` ==")
            bench_writer(cluster.create_database("writer"), work, args.devset)
            bench_ingest(work, args.rounds, args.devset)
    finally:
        stop_cluster(cluster)


if __name__ == "__main__":
    main()
