"""Reference packs: size per reference of each export format, and import speed.

1. Sizes: a database of real references (the devset's game stills and one gameplay recording,
   added as `db add` adds them), exported in every format; bytes per reference.
2. Import speed, 1,000,000 hash-only references (a PDQ and a pHash each, as a partner's hash
   list holds): the same references as a version-1 file imported by the previous code (baseline,
   ``--baseline TREE``: a checkout of it, run in a subprocess) and by this code, and as a
   version-2 pack (plain, gzip, zstd) by this code; rounds alternate.
3. Import speed with keypoints: N references with 512 keypoints each as a version-2 pack,
   against the same references without keypoints, in the same run.

    python benchmarks/packs.py --baseline ../main            # the figures of docs/packs.md
    python benchmarks/packs.py --quick                       # 100,000 references, one round

The devset is looked for in ../shared/devset beside the checkout, or where PROVCHECK_DEVSET says.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from provcheck.services.packs.importing import import_file
from provcheck.services.packs.publish import export_pack
from provcheck.store import open_store

DEVSET = Path(
    os.environ.get("PROVCHECK_DEVSET", Path(__file__).resolve().parents[2] / "shared" / "devset")
)
FORMATS = [
    ("jsonl", "pack.jsonl", False),
    ("jsonl", "pack.jsonl.gz", False),
    ("jsonl", "pack.jsonl.zst", False),
    ("jsonl", "pack-thumbs.jsonl.zst", True),
    ("pdq", "hashes.txt", False),
    ("threatexchange", "signals.txt", False),
]


def section(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir())
    return path.stat().st_size


EXE = shutil.which("provcheck") or str(Path(sys.executable).with_name("provcheck"))


def build_devset_db(db: Path, video: str, *extra: str) -> Path:
    """The devset's stills (a source per game) and one recording, added as a desk adds them."""
    for folder in sorted((DEVSET / "frames").iterdir()):
        subprocess.run(
            [EXE, "db", "add", str(folder), "--db", str(db), "--label", folder.name,
             "--category", "game", "--jobs", "2", *extra],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    subprocess.run(
        [EXE, "db", "add", str(DEVSET / "videos" / video), "--db", str(db), "--label",
         f"{video} (recording)", "--category", "game", "--jobs", "2", *extra],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return db


def bench_sizes(work: Path, video: str) -> None:
    section("pack size per reference (devset stills and one recording, as db add stores them)")
    db = build_devset_db(work / "devset.sqlite", video)
    with open_store(db, readonly=True) as store:
        counts = store.stats()
        items, frames = int(counts["items"]), int(counts["video_frames"])
        with_keypoints = store.feature_count()
        print(
            f"{items} references ({items - frames} stills, {frames} video frames; {with_keypoints}"
            f" with keypoints); database {db.stat().st_size / items / 1024:.1f} KiB/reference"
        )
        for fmt, name, thumbnails in FORMATS:
            out = work / name
            export_pack(store, out, fmt=fmt, thumbnails=thumbnails)
            label = f"{fmt} {name}" + (" (--thumbnails)" if thumbnails else "")
            print(f"{label:42s} {_size(out) / items:9,.0f} bytes/reference")
        folder = work / "vpdq"
        export_pack(store, folder, fmt="vpdq")
        print(
            f"{'vpdq (video frames only)':42s} {_size(folder) / max(frames, 1):9,.0f}"
            f" bytes/video frame ({len(list(folder.iterdir()))} file)"
        )


def write_references(path_v1: Path, path_v2: Path, n: int, seed: int, keypoints: int = 0) -> None:
    """The same ``n`` hash-only references as a version-1 and a version-2 file (version 2 with
    ``keypoints`` random keypoints per reference when asked)."""
    rng = np.random.default_rng(seed)
    head = {"format": "provcheck-export", "provcheck": "bench", "hash_kinds": {"pdq": 256}}
    source = {"type": "source", "key": 1, "label": "partner", "category": "footage"}
    with path_v1.open("w") as v1, path_v2.open("w") as v2:
        v1.write(json.dumps({**head, "version": 1}) + "\n" + json.dumps(source) + "\n")
        v2.write(json.dumps({**head, "version": 2}) + "\n" + json.dumps(source) + "\n")
        for start in range(0, n, 50_000):
            count = min(50_000, n - start)
            pdq = rng.integers(0, 256, (count, 32), dtype=np.uint8)
            phash = rng.integers(0, 256, (count, 8), dtype=np.uint8)
            for i in range(count):
                record = {
                    "type": "item", "source": 1, "origin": f"list:{start + i}",
                    "item_key": f"pdq:{pdq[i].tobytes().hex()}", "sha256": None,
                    "width": None, "height": None, "frame_time": None,
                    "hashes": [
                        {"kind": "pdq", "hex": pdq[i].tobytes().hex(), "quality": 90,
                         "region": None},
                        {"kind": "phash", "hex": phash[i].tobytes().hex(), "quality": None,
                         "region": None},
                    ],
                }  # fmt: skip
                v1.write(json.dumps(record) + "\n")
                if keypoints:
                    record["features"] = _features_text(rng, keypoints)
                v2.write(json.dumps(record, separators=(",", ":")) + "\n")


def _features_text(rng: np.random.Generator, n: int) -> str:
    import base64

    from provcheck.signals.keypoints import Features

    points = (rng.random((n, 2)) * [[500, 380]]).astype(np.float32)
    features = Features(points, rng.integers(0, 256, (n, 32), dtype=np.uint8), 512, 384)
    return base64.b64encode(features.to_blob()).decode("ascii")


def _import_here(path: Path, db: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one import: CPU time is what the machine's other work moves least."""
    start, cpu = time.perf_counter(), time.process_time()
    with open_store(db, create=True) as store:
        import_file(store, path)
    return time.perf_counter() - start, time.process_time() - cpu


_BASELINE = """
import sys, time
from pathlib import Path
from provcheck.services.exchange import import_file
from provcheck.store import open_store
start, cpu = time.perf_counter(), time.process_time()
with open_store(Path(sys.argv[2]), create=True) as store:
    import_file(store, Path(sys.argv[1]))
print(time.perf_counter() - start, time.process_time() - cpu)
"""


def _import_baseline(tree: Path, path: Path, db: Path) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", _BASELINE, str(path), str(db)],
        env=env, capture_output=True, text=True, check=True, cwd=tree,
    )  # fmt: skip
    wall, cpu = done.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def _fresh(work: Path, name: str) -> Path:
    db = work / name
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(f"{db}.arrays", ignore_errors=True)
    return db


def _stats(times: list[tuple[float, float]], n: int) -> str:
    wall, cpu = [t[0] for t in times], [t[1] for t in times]
    return (
        f"wall min {min(wall):.1f} / median {statistics.median(wall):.1f} / max {max(wall):.1f} s"
        f" ({n / statistics.median(wall):,.0f}/s); CPU min {min(cpu):.1f} / median"
        f" {statistics.median(cpu):.1f} / max {max(cpu):.1f} s"
        f" ({n / statistics.median(cpu):,.0f}/s)"
    )


def _cpu(times: list[tuple[float, float]]) -> float:
    return statistics.median(t[1] for t in times)


def bench_import(
    work: Path, n: int, rounds: int, baseline: Path | None, only: tuple[str, ...] = ()
) -> None:
    section(f"db import of {n:,} hash-only references (PDQ + pHash each), {rounds} rounds")
    v1, v2 = work / "refs-v1.jsonl", work / "refs-v2.jsonl"
    write_references(v1, v2, n, seed=1)
    zst = work / "refs-v2.jsonl.zst"
    gz = work / "refs-v2.jsonl.gz"
    import zstandard

    with v2.open("rb") as src, zst.open("wb") as dst:
        zstandard.ZstdCompressor(level=10).copy_stream(src, dst)
    with v2.open("rb") as src, gzip.open(gz, "wb", compresslevel=6) as dst:
        shutil.copyfileobj(src, dst)
    for path in (v1, v2, gz, zst):
        print(f"{path.name}: {path.stat().st_size / n:.1f} bytes/reference")
    runs: dict[str, list[tuple[float, float]]] = {}
    cases: list[tuple[str, Path]] = [("v1 file, this code", v1), ("v2 pack", v2)]
    cases += [("v2 pack .gz", gz), ("v2 pack .zst", zst)]
    if only:
        cases = [case for case in cases if case[0] in only]
    for _ in range(rounds):
        if baseline is not None:
            t = _import_baseline(baseline, v1, _fresh(work, "base.sqlite"))
            runs.setdefault("v1 file, previous code (baseline)", []).append(t)
        for label, path in cases:
            runs.setdefault(label, []).append(_import_here(path, _fresh(work, "here.sqlite")))
    base = runs.get("v1 file, previous code (baseline)")
    for label, times in runs.items():
        ratio = f"  (CPU {_cpu(base) / _cpu(times):.2f}x the baseline's speed)" if base else ""
        print(f"{label:34s} {_stats(times, n)}{ratio}")


def bench_keypoints(work: Path, n: int, rounds: int) -> None:
    section(f"db import of {n:,} references with 512 keypoints each (v2) against none")
    v1, v2 = work / "kp-v1.jsonl", work / "kp-v2.jsonl"
    write_references(v1, v2, n, seed=2, keypoints=512)
    print(f"{v2.name}: {v2.stat().st_size / n / 1024:.1f} KiB/reference")
    plain: list[tuple[float, float]] = []
    full: list[tuple[float, float]] = []
    for _ in range(rounds):
        plain.append(_import_here(v1, _fresh(work, "kp0.sqlite")))
        full.append(_import_here(v2, _fresh(work, "kp1.sqlite")))
    print(f"{'without keypoints':34s} {_stats(plain, n)}")
    print(f"{'with 512 keypoints':34s} {_stats(full, n)}")
    with open_store(work / "kp1.sqlite", readonly=True) as store:
        print(f"keypoint sets stored: {store.feature_count():,}")


def _scan(db: Path, queries: Path) -> list[dict]:
    done = subprocess.run(
        [EXE, "scan", str(queries), "--db", str(db), "--format", "json", "-j", "2"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    results = json.loads(done.stdout)["results"]
    for result in results:
        for match in result["matches"]:
            match.pop("database")
    return results


def _top(result: dict) -> tuple[str, object] | None:
    return (
        (result["matches"][0]["origin"], result["matches"][0]["frame_time"])
        if result["matches"]
        else None
    )


def bench_verdicts(work: Path, video: str, per_edit: int) -> None:
    """Scan edited devset stills against a database and against copies imported from its
    exports: the same verdicts, match for match, or where not, how many differ."""
    sys.path.insert(0, str(Path(__file__).parent))
    from PIL import Image
    from transforms import TRANSFORMS

    edits = ["crop_offcentre_50", "crop_centre_50", "mirror_crop_offcentre_50", "screenshot"]
    section(f"verdicts on imported copies: {per_edit} devset stills x {', '.join(edits)}")
    queries = work / "queries"
    queries.mkdir()
    stills = sorted((DEVSET / "frames").rglob("*.jpg"))
    rng = np.random.default_rng(5)
    for edit in edits:
        for path in rng.choice(stills, per_edit, replace=False):
            picture = Image.open(path).convert("RGB")
            TRANSFORMS[edit](picture, rng).convert("RGB").save(queries / f"{edit}-{path.stem}.png")
    plain = build_devset_db(work / "verdict-plain.sqlite", video, "--no-thumbnails")
    with_previews = work / "devset.sqlite"
    if not with_previews.exists():
        build_devset_db(with_previews, video)
    cases = [
        ("db add --no-thumbnails -> pack", plain, ()),
        ("db add (previews) -> pack", with_previews, ()),
        ("db add (previews) -> pack --thumbnails", with_previews, ("--thumbnails",)),
        ("db add --no-thumbnails -> version-1 file", plain, ("v1",)),
    ]
    for label, original, extra in cases:
        pack = work / "verdict-pack.jsonl"
        flags = [flag for flag in extra if flag != "v1"]
        subprocess.run(
            [EXE, "db", "export", "--db", str(original), "-o", str(pack), *flags],
            check=True, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if "v1" in extra:  # what a version-1 export held: no keypoints
            lines = pack.read_text().splitlines()
            records = [json.loads(line) for line in lines]
            records[0]["version"] = 1
            for record in records:
                record.pop("features", None)
            pack.write_text("".join(json.dumps(r) + "\n" for r in records))
        copy = _fresh(work, "verdict-copy.sqlite")
        subprocess.run(
            [EXE, "db", "import", str(pack), "--db", str(copy)], check=True, capture_output=True
        )
        before, after = _scan(original, queries), _scan(copy, queries)
        same = sum(a == b for a, b in zip(before, after, strict=True))
        status = sum(a["status"] == b["status"] for a, b in zip(before, after, strict=True))
        top = sum(_top(a) == _top(b) for a, b in zip(before, after, strict=True))
        found = [sum(r["status"] == "match" for r in rs) for rs in (before, after)]
        print(
            f"{label:42s} identical results {same}/{len(before)}, same status {status},"
            f" same first match {top}; matched: original {found[0]}, copy {found[1]}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, help="checkout of the previous code (main)")
    parser.add_argument("--references", type=int, default=1_000_000)
    parser.add_argument("--keypoint-references", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--video", default="wesnoth_ai_vs_ai.mp4")
    parser.add_argument("--quick", action="store_true", help="100,000 references, one round")
    parser.add_argument("--skip-sizes", action="store_true")
    parser.add_argument("--skip-imports", action="store_true")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="CASE",
        help="import cases to time besides the baseline, e.g. 'v2 pack'",
    )
    parser.add_argument("--skip-keypoints", action="store_true")
    parser.add_argument(
        "--verdicts",
        type=int,
        default=10,
        metavar="N",
        help="stills per edit for the verdict check (0: skip it)",
    )
    args = parser.parse_args()
    if args.quick:
        args.references, args.keypoint_references, args.rounds = 100_000, 2_000, 1
    with tempfile.TemporaryDirectory(prefix="provcheck-packs-") as tmp:
        work = Path(tmp)
        if not args.skip_sizes:
            if not DEVSET.exists():
                print(f"no devset at {DEVSET}: sizes skipped")
            else:
                bench_sizes(work, args.video)
        if args.verdicts and DEVSET.exists():
            bench_verdicts(work, args.video, args.verdicts)
        if not args.skip_imports:
            bench_import(work, args.references, args.rounds, args.baseline, tuple(args.only))
        if not args.skip_keypoints:
            bench_keypoints(work, args.keypoint_references, args.rounds)


if __name__ == "__main__":
    main()
