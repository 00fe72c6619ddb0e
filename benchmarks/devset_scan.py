"""Exact-copy and mirrored-copy recall on the devset stills, and the time to scan 1,000 images.

    python benchmarks/devset_scan.py [--devset ../shared/devset] [--count 1000]

Recall: every devset still is added to a fresh database; each still (as is) and its mirror image
(re-encoded as JPEG q90) is scanned; a hit is status "match" with a best match whose pixels are
the query's original (same sha256: identical frames are stored once). The folder timing scans
``--count`` images (devset stills, their mirrors and re-encoded copies, cycled) through the real
``provcheck scan`` command, against the baseline of the same command on a single image, so the
figure is per-image cost beyond start-up.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
DEFAULT_DEVSET = HERE.parent.parent / "shared" / "devset"


def _provcheck(*args: object) -> subprocess.CompletedProcess[bytes]:
    exe = Path(sys.executable).with_name("provcheck")
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    stills = sorted((args.devset / "frames").rglob("*.jpg"))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db = tmp / "refs.sqlite"
        _provcheck(
            "db",
            "add",
            args.devset / "frames",
            "--label",
            "devset",
            "--category",
            "game",
            "--db",
            db,
        )
        sha = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in stills}
        mirrors = tmp / "mirrors"
        mirrors.mkdir()
        mirror_of: dict[Path, Path] = {}
        for p in stills:
            out = mirrors / p.name
            Image.open(p).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(out, quality=90)
            mirror_of[out] = p
        for name, queries, truth in (
            ("exact copies", stills, {p: sha[p] for p in stills}),
            ("mirrored copies", list(mirror_of), {m: sha[o] for m, o in mirror_of.items()}),
        ):
            doc = json.loads(_provcheck("scan", *queries, "--db", db, "--format", "json").stdout)
            strict = tied = 0
            for r in doc["results"]:
                if r["status"] != "match":
                    continue
                best, true_sha = r["matches"][0], truth[Path(r["input"])]
                strict += best["sha256"] == true_sha
                # A frame that is pixel-identical to another hashes the same: a tie is not a miss.
                tied += any(
                    m["sha256"] == true_sha and m["distances"] == best["distances"]
                    for m in r["matches"]
                )
            n = len(queries)
            print(
                f"{name:16s} recall {strict}/{n} = {strict / n:.3f} (right item first);"
                f" {tied}/{n} = {tied / n:.3f} (right item tied for first)"
            )

        folder = tmp / "batch"
        folder.mkdir()
        sources = stills + list(mirror_of)
        for n in range(args.count):
            src = sources[n % len(sources)]
            Image.open(src).save(folder / f"{n:05d}.jpg", quality=80 + n % 15)
        t0 = time.perf_counter()
        _provcheck("scan", stills[0], "--db", db, "--format", "json")
        single = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = _provcheck("scan", folder, "--db", db, "--format", "json", "--jobs", args.jobs)
        batch = time.perf_counter() - t0
        summary = json.loads(result.stdout)["summary"]
        t0 = time.perf_counter()
        fast = _provcheck(
            "scan", folder, "--db", db, "--format", "json", "--jobs", args.jobs, "--no-keypoints"
        )
        hashes_only = time.perf_counter() - t0
        fast_summary = json.loads(fast.stdout)["summary"]
        print(f"scan of one image (baseline, start-up included): {single:.2f} s")
        print(
            f"scan of a folder of {summary['inputs']} images, --jobs {args.jobs}: {batch:.2f} s"
            f" ({summary['inputs'] / batch:.0f} images/s; {summary['match']} matched)"
        )
        print(
            f"same folder with --no-keypoints (hashes only): {hashes_only:.2f} s"
            f" ({fast_summary['inputs'] / hashes_only:.0f} images/s;"
            f" {fast_summary['match']} matched; {batch / hashes_only:.1f}x faster)"
        )
        print(f"machine: {os.cpu_count()} cores; references: {summary['databases'][0]['items']}")


if __name__ == "__main__":
    main()
