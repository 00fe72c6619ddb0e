"""Speed and scale of provcheck, each figure next to a baseline measured in the same run.

    python benchmarks/speed.py --quick      # a few minutes on 2 cores: search at 100 k and 1 M
    python benchmarks/speed.py              # adds search at 10 M references (~4 GB of RAM)

Sections: hashing throughput on large real JPEGs (baseline: imagehash.phash on a full decode),
PDQ on the working copy against PDQ on the full-size picture, hash-stage search (baseline: the
linear scan), index memory, bulk import of 1 M PDQ hashes (baseline: the row-by-row path), and
cold start of ``provcheck scan`` / ``provcheck --help`` against that 1 M database, with a profile
of what the cold scan spends its time on. Timings are wall-clock on whatever machine runs it;
say which (cores, shared or not) when you quote them.
"""

from __future__ import annotations

import argparse
import io
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import imagehash
import numpy as np
import pdqhash
from PIL import Image

from provcheck.media.images import decode_image, draft_request, load_image
from provcheck.search.hash_index import LinearIndex, MultiIndex
from provcheck.services.packs.importing import import_file
from provcheck.signals.fingerprint import fingerprint, query_fingerprint
from provcheck.signals.hashes import Hash, PdqHasher
from provcheck.store import SourceInfo, StoredHash, open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from realimages import DEVSET_FRAMES, make_mosaics

PDQ_MAX, PHASH_MAX = PdqHasher.max_distance, 8
LIMITS = {"pdq": PDQ_MAX, "phash": PHASH_MAX}


def best_of(fn: Callable[[], object], reps: int) -> float:
    """Smallest wall time of ``reps`` runs, in seconds (the least disturbed by other load)."""
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def section(title: str) -> None:
    print(f"\n== {title} ==")


# -- hashing ------------------------------------------------------------------------------------


def bench_hashing(mosaics: list[Path], reps: int) -> None:
    section("hashing: large real JPEGs, one core")
    print(
        "images: mosaics of real devset gameplay frames pasted at their own size (no upscaling),"
        " JPEG q90 4:2:0"
    )
    print(
        f"{'image':28} {'MP':>5} {'KB':>6} {'baseline ms':>12} {'provcheck ms':>13} "
        f"{'(decode':>8} {'hash)':>6} {'ratio':>6} {'1/8-decode floor ms':>20} "
        f"{'+ keypoints ms':>15}"
    )
    ratios, base_total, ours_total, full_total = [], 0.0, 0.0, 0.0
    for path in mosaics:
        data = path.read_bytes()
        with Image.open(path) as im:
            w, h = im.size

        def baseline(data: bytes = data) -> None:
            imagehash.phash(Image.open(io.BytesIO(data)))

        def decode(data: bytes = data, name: str = path.name) -> object:
            return decode_image(data, name)

        def floor(data: bytes = data, w: int = w, h: int = h) -> None:
            with Image.open(io.BytesIO(data)) as im:
                im.draft("RGB", draft_request(w, h, 64))  # 1/8: the least decoding possible
                im.load()

        loaded = decode_image(data, path.name)
        t_base = best_of(baseline, reps)
        t_decode = best_of(decode, reps)
        # The hashes a query is searched with (what `--no-keypoints` computes) ...
        t_hash = best_of(lambda loaded=loaded: query_fingerprint(loaded.image, False), reps)
        # ... and the whole default query, with ORB keypoints for partial matches.
        t_full = best_of(lambda loaded=loaded: query_fingerprint(loaded.image), reps)
        t_floor = best_of(floor, reps)
        ours = t_decode + t_hash
        ratios.append(t_base / ours)
        base_total += t_base
        ours_total += ours
        full_total += t_decode + t_full
        print(
            f"{path.name:28} {w * h / 1e6:5.1f} {len(data) // 1024:6d} {t_base * 1e3:12.1f} "
            f"{ours * 1e3:13.1f} {t_decode * 1e3:8.1f} {t_hash * 1e3:6.1f} "
            f"{t_base / ours:5.1f}x {t_floor * 1e3:20.1f} {(t_decode + t_full) * 1e3:15.1f}"
        )
    print(
        f"throughput per core: baseline {len(mosaics) / base_total:.1f} images/s, provcheck "
        f"(decode + hashes: PDQ x8 dihedral + pHash x2, also of the inner picture) "
        f"{len(mosaics) / ours_total:.1f} images/s = {base_total / ours_total:.1f}x (per image "
        f"{min(ratios):.1f}x to {max(ratios):.1f}x); with ORB keypoints of the query and its"
        f" mirror (the default scan) {len(mosaics) / full_total:.1f} images/s ="
        f" {base_total / full_total:.1f}x"
    )


def bench_folder_jobs(mosaics: list[Path], copies: int) -> None:
    from provcheck.media.targets import Target
    from provcheck.services.scan import ScanOptions, _hashed_stream

    section("hashing a folder: --jobs (hashes only, as --no-keypoints)")
    targets = [Target("file", str(p)) for p in mosaics * copies]
    rows = []
    for jobs in (1, 2):
        options = ScanOptions(jobs=jobs, keypoints=False)
        t = best_of(lambda options=options: list(_hashed_stream(targets, options)), 1)
        rows.append(t)
        print(
            f"--jobs {jobs}: {len(targets)} images in {t:.2f} s = {len(targets) / t:.1f} images/s"
        )
    print(f"speed-up with 2 jobs: {rows[0] / rows[1]:.2f}x (2 cores shared with other work)")


def bench_pdq_tolerance(mosaics: list[Path]) -> None:
    section("PDQ/pHash on the working copy vs on the full-size picture")
    frames = sorted(DEVSET_FRAMES.glob("*/*.jpg"))
    for label, paths in (("devset frames", frames), ("mosaics", mosaics)):
        dist: dict[str, list[int]] = {"pdq": [], "phash": [], "pdq @1024": []}
        for path in paths:
            with Image.open(path) as im:
                full = im.convert("RGB")
            vector, _ = pdqhash.compute(np.asarray(full))
            full_pdq = Hash.from_bit_vector("pdq", vector)
            full_phash = Hash.from_bit_vector("phash", imagehash.phash(full).hash.flatten())
            ours = fingerprint(load_image(path).image)
            dist["pdq"].append(ours.hashes["pdq"] - full_pdq)
            dist["phash"].append(ours.hashes["phash"] - full_phash)
            wider = PdqHasher().compute(load_image(path, working_size=1024).image)
            dist["pdq @1024"].append(wider - full_pdq)
        for name, values in dist.items():
            d, limit = np.array(values), LIMITS[name.split()[0]]
            print(
                f"{label:14} {name:10} n={len(d):3d} distance full-size vs working copy"
                f"{' (1024 px, for comparison)' if '1024' in name else ' (512 px)'}: "
                f"median {np.median(d):.0f}, p95 {np.percentile(d, 95):.0f}, max {d.max()} "
                f"(threshold {limit}; {int((d <= limit).sum())}/{len(d)} within)"
            )


# -- search -------------------------------------------------------------------------------------


def _queries(rng: np.random.Generator, codes: np.ndarray, n: int, flips: int) -> np.ndarray:
    """n query images x variants: the first variant near a stored code, the rest random."""
    variants = 8 if codes.shape[1] == 32 else 2
    out = rng.integers(0, 256, (n, variants, codes.shape[1]), dtype=np.uint8)
    picked = codes[rng.integers(0, len(codes), n)]
    bits = np.unpackbits(picked, axis=1)
    for row in bits:
        row[rng.choice(bits.shape[1], flips, replace=False)] ^= 1
    out[:, 0] = np.packbits(bits, axis=1)
    return out


def bench_search(sizes: list[int], n_queries: int) -> None:
    section("hash-stage search: one query image = 8 PDQ variants at 31 + 2 pHash variants at 8")
    print("corpus: uniform random codes (real corpora are clustered: more candidates per probe)")
    print(
        f"{'refs':>10} {'linear p50 ms':>14} {'multi-index p50 ms':>19} {'p90':>6} "
        f"{'speed-up':>9} {'build s':>8} {'index B/ref':>12} {'same answers':>13}"
    )
    rng = np.random.default_rng(2026)
    for n in sizes:
        pdq = rng.integers(0, 256, (n, 32), dtype=np.uint8)
        phash = rng.integers(0, 256, (n, 8), dtype=np.uint8)
        start = time.perf_counter()
        fast = {"pdq": MultiIndex.build(pdq), "phash": MultiIndex.build(phash)}
        build = time.perf_counter() - start
        slow = {"pdq": LinearIndex(pdq), "phash": LinearIndex(phash)}
        queries = {
            "pdq": _queries(rng, pdq, n_queries, 12),
            "phash": _queries(rng, phash, n_queries, 3),
        }

        def one_image(index: dict, i: int, queries: dict = queries) -> list:  # type: ignore[type-arg]
            # As the matcher calls it: one query_many() per kind with all the variants.
            return [
                h for k in ("pdq", "phash") for h in index[k].query_many(queries[k][i], LIMITS[k])
            ]

        fast_t, same = [], True
        for i in range(n_queries):
            start = time.perf_counter()
            hits = one_image(fast, i)
            fast_t.append(time.perf_counter() - start)
            if i < 3:  # the linear scan is the slow reference: compare a few images in full
                expected = one_image(slow, i)
                same &= all(
                    np.array_equal(a.rows, b.rows) and np.array_equal(a.distances, b.distances)
                    for a, b in zip(hits, expected, strict=True)
                )
        lin_reps = max(1, min(n_queries, int(3e6 / n)))
        lin_t = []
        for i in range(lin_reps):
            start = time.perf_counter()
            one_image(slow, i)
            lin_t.append(time.perf_counter() - start)
        nbytes = fast["pdq"].nbytes + fast["phash"].nbytes
        per_kind = f"pdq {fast['pdq'].nbytes / n:.0f} + phash {fast['phash'].nbytes / n:.0f}"
        lin_p50, fast_p50 = statistics.median(lin_t), statistics.median(fast_t)
        print(
            f"{n:10,d} {lin_p50 * 1e3:14.1f} {fast_p50 * 1e3:19.2f} "
            f"{np.percentile(fast_t, 90) * 1e3:6.2f} {lin_p50 / fast_p50:8.0f}x {build:8.1f} "
            f"{nbytes / n:12.1f} {'yes' if same else 'NO':>13}  ({per_kind} B/ref)"
        )
        del fast, slow, pdq, phash
    print(
        "index B/ref: codes + one int32 per row and chunk + fixed bucket tables, both kinds, per"
        " frame; the linear scan holds the 40 B of codes only. Item ids add 8 B per kind."
    )


# -- bulk import and cold start -----------------------------------------------------------------


def write_pdq_list(path: Path, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    with path.open("w", encoding="utf-8") as out:
        for start in range(0, n, 100_000):
            block = rng.integers(0, 256, (min(100_000, n - start), 32), dtype=np.uint8)
            out.write("".join(row.tobytes().hex() + "\n" for row in block))


def bench_import(work: Path, n: int, baseline_n: int) -> Path:
    section(f"db import of {n:,} PDQ hashes (plain list format)")
    listing = work / "hashes.txt"
    write_pdq_list(listing, n, seed=1)
    info = SourceInfo("partner list", "footage")
    base_db = work / "baseline.sqlite"
    with open_store(base_db, create=True) as store, store.transaction():
        source_id, _ = store.ensure_source(info)
        start = time.perf_counter()
        with listing.open(encoding="utf-8") as lines:
            for number, line in zip(range(baseline_n), lines, strict=False):
                hex_digits = line.strip()
                store.add_item(
                    source_id,
                    origin=f"{listing}:{number}",
                    item_key=f"pdq:{hex_digits}",
                    hashes=[StoredHash(Hash.from_hex("pdq", hex_digits))],
                )
        t_base = time.perf_counter() - start
    db = work / "refs-1m.sqlite"
    start = time.perf_counter()
    with open_store(db, create=True) as store:
        report = import_file(store, listing, default_source=info)
    t_bulk = time.perf_counter() - start
    start = time.perf_counter()
    with open_store(db, create=True) as store:
        again = import_file(store, listing, default_source=info)
    t_again = time.perf_counter() - start
    print(
        f"baseline (the previous path: Store.add_item row by row, a SELECT per row, default"
        f" page cache; {baseline_n:,} rows, same transaction shape): {t_base:.1f} s ="
        f" {baseline_n / t_base:,.0f} rows/s"
    )
    print(
        f"bulk import: {report.items_added:,} added in {t_bulk:.1f} s = {n / t_bulk:,.0f} rows/s "
        f"({(n / t_bulk) / (baseline_n / t_base):.1f}x the baseline); re-import "
        f"(all present) {t_again:.1f} s, {again.items_added} added"
    )
    return db


def _wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def bench_cold_start(db: Path, image: Path, reps: int) -> None:
    section(f"cold start: new process per run, {db.name}")
    exe = shutil.which("provcheck") or str(Path(sys.executable).with_name("provcheck"))
    env = {**os.environ, "PROVCHECK_DB": str(db)}
    py = sys.executable
    first = _wall([exe, "scan", str(image)], env)
    scans = [_wall([exe, "scan", str(image)], env) for _ in range(reps)]
    helps = [_wall([exe, "--help"], env) for _ in range(reps)]
    bare = [_wall([py, "-c", "pass"], env) for _ in range(reps)]
    floor = [_wall([py, "-c", "import numpy, PIL.Image, pdqhash"], env) for _ in range(reps)]
    print(
        f"baseline: python -c pass {statistics.median(bare):.3f} s; importing numpy + Pillow +"
        f" pdqhash alone {statistics.median(floor):.3f} s"
    )
    print(f"provcheck scan one.jpg, first run after the import (builds the sidecar): {first:.2f} s")
    print(
        f"provcheck scan one.jpg, later runs: median {statistics.median(scans):.3f} s, max "
        f"{max(scans):.3f} s ({reps} runs; OS file cache warm, process cold)"
    )
    print(f"provcheck --help: median {statistics.median(helps):.3f} s, max {max(helps):.3f} s")
    profile_cold_scan(db, image)


def profile_cold_scan(db: Path, image: Path) -> None:
    """cProfile of one scan in a fresh interpreter, imports included."""
    out = Path(tempfile.mkdtemp()) / "scan.prof"
    cmd = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "provcheck", "scan", str(image)]
    subprocess.run([*cmd, "--db", str(db)], stdout=subprocess.DEVNULL, check=False)
    stats = pstats.Stats(str(out))
    entries = stats.stats  # type: ignore[attr-defined]
    total = max(ct for (_cc, _nc, _tt, ct, _callers) in entries.values())
    print(f"\ncold scan profile (cProfile, {total:.3f} s profiled; imports included):")

    def where(filename: str, line: int, func: str) -> str:
        parts = Path(filename).parts
        short = "/".join(parts[-2:]) if len(parts) > 1 else filename
        return f"{short}:{line}({func})"

    print("  top by cumulative time:")
    shown = 0
    for (filename, line, func), (_cc, _nc, _tt, ct, _callers) in sorted(
        entries.items(), key=lambda kv: -kv[1][3]
    ):
        if filename.startswith(("<frozen", "~", "<string>")) or "click/" in filename:
            continue
        print(f"  {ct:7.3f} s  {where(filename, line, func)}")
        shown += 1
        if shown == 14:
            break
    print("  top by own time:")
    for (filename, line, func), (_cc, _nc, tt, _ct, _callers) in sorted(
        entries.items(), key=lambda kv: -kv[1][2]
    )[:10]:
        print(f"  {tt:7.3f} s  {where(filename, line, func)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip 10 M; fewer repetitions")
    parser.add_argument("--work", type=Path, help="folder for generated files (default: temp)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="provcheck-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"provcheck speed benchmark ({'quick' if args.quick else 'full'}); {os.cpu_count()} CPUs"
        f" visible; load average {os.getloadavg()[0]:.1f} (other work shares these cores);"
        f" numpy {np.__version__}; work folder {work}"
    )
    mosaics = make_mosaics(work / "mosaics")
    reps = 3 if args.quick else 5
    bench_hashing(mosaics, reps)
    bench_folder_jobs(mosaics, 2 if args.quick else 4)
    bench_pdq_tolerance(mosaics)
    sizes = [100_000, 1_000_000] if args.quick else [100_000, 1_000_000, 10_000_000]
    bench_search(sizes, 50 if args.quick else 100)
    db = bench_import(work, 1_000_000, 1_000_000)
    bench_cold_start(db, sorted(DEVSET_FRAMES.glob("wesnoth/*.jpg"))[0], 5 if args.quick else 9)


if __name__ == "__main__":
    main()
