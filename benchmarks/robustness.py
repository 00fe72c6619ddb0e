"""Recall per edit and pooled false-positive rate: provcheck at its defaults vs plain hashes, and
vs the code before a change (``--baseline DIR``) on the same queries in the same run.

    python benchmarks/robustness.py [--corpus devset|soft] [--per-transform 40] [--jobs 2]
                                    [--baseline /path/to/other/checkout]

Corpus ``devset`` (>= 300 real images): frames every 0.5 s of the devset gameplay videos and
scikit-image's bundled photographs. References (added to a fresh database): every frame of the
Chromium B.S.U. and Wesnoth recordings and half of the photos. Distractors (never added): every
frame of the SuperTuxKart recordings and the other photos: real images unrelated to any
reference. (Frames of another recording of a *referenced* game are not unrelated: consecutive
frames of a slow scene are near-identical pictures, and flagging them is right.)

Corpus ``soft`` (``benchmarks/soft_corpus.py``): wallpapers and backgrounds of the Debian
packages installed here (smooth landscapes, skies, gradients, paper textures, soft-focus
photos) and scikit-image's photographs, one file per picture family, split in half by a seeded
draw: references and distractors. Also flat and near-flat pictures made here (one colour, black
frames, blank screens, gradients, stripes, noise on a flat colour, clouds): a few stored as
references (a gradient wallpaper is a legitimate reference), the rest distractors that must
never match.

Every transform in benchmarks/transforms.py is applied (seeded) to a sample of references and of
distractors. A true query counts as recalled ("provcheck" column) when its status is match and
the first match is its reference (for video frames: the same video within 2 s), or a reference
frame showing the same picture (PDQ within 8 bits of it: a static camera or a paused game repeats
a picture, and no method can tell which copy a still came from). The "strict" column wants the
frame itself; the "source" column only the right video (any moment) or photo, which is what a
fact-checker cites. Queries made from a reference the database refused (too flat to hash) are
left out of recall and counted apart: it holds no such reference to find. A distractor query
counts as a false positive when it matches anything. "insufficient" counts the queries reported
``insufficient`` while their reference is stored.
Baselines: plain imagehash pHash and PDQ of the whole picture, nearest reference, at the threshold
that gives the same pooled false-positive rate as provcheck in this run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from robustness_corpus import Picture, build_devset_corpus, build_soft_corpus
from robustness_report import Run, report
from robustness_work import build, query, use_code
from transforms import TRANSFORMS

HERE = Path(__file__).resolve().parent
DEFAULT_DEVSET = HERE.parent.parent / "shared" / "devset"


def _draw(
    args: argparse.Namespace, pictures: list[Picture]
) -> tuple[list[tuple[str, int, str, str]], list[tuple[str, bool]]]:
    """The seeded queries: per edit, a sample of references and of distractors (and of flat
    distractors, drawn apart so that every edit meets some). Edits are drawn in their order in
    TRANSFORMS, so appending an edit leaves every other edit's queries as they were."""
    refs = [p for p in pictures if p.reference]
    groups = [(refs, True), ([p for p in pictures if not p.reference and not p.flat], False)]
    flats = [p for p in pictures if p.flat and not p.reference]
    if flats:
        groups.append((flats, False))
    rng = np.random.default_rng(args.seed)
    jobs, truth = [], []
    for name in TRANSFORMS:
        for group, is_ref in groups:
            count = args.per_transform if group is not flats else max(1, args.per_transform // 2)
            for i in rng.choice(len(group), size=min(count, len(group)), replace=False):
                p = group[int(i)]
                jobs.append((name, int(rng.integers(1 << 31)), str(p.path), p.key))
                truth.append((p.key, is_ref))
    if args.only:  # drawn as a full run draws them, so each query is the same as there
        kept = [i for i, job in enumerate(jobs) if job[0] in args.only]
        jobs, truth = [jobs[i] for i in kept], [truth[i] for i in kept]
    return jobs, truth


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=("devset", "soft"), default="devset")
    parser.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument(
        "--per-transform",
        type=int,
        default=60,
        help="references and distractors sampled per transform (each)",
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(TRANSFORMS),
        help="run only this edit (repeatable); its queries are the ones a full run makes",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of provcheck (its root folder) to run the same queries with, in the"
        " same run: the code before a change",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="MODULE:NAME=VALUE",
        help="set a constant in provcheck (e.g. provcheck.matching.calibration:MIN_INLIERS=10)"
        " for the code under test only (repeatable): an experiment without editing the code",
    )
    parser.add_argument(
        "--details",
        type=Path,
        help="write one JSON line per query (edit, picture, status, first match, verdicts)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        help="folder to keep the corpus pictures in between runs (default: a temporary one)",
    )
    return parser


def _run(
    args: argparse.Namespace,
    tmp: Path,
    pictures: list[Picture],
    jobs: list[tuple[str, int, str, str]],
) -> list[Run]:
    """Build each version's database and answer every query with each, in parallel: one pool
    per version, the queries handed to both in turn, so both meet the same load."""
    versions: list[tuple[str, str | None, tuple[str, ...]]] = [("provcheck", None, tuple(args.set))]
    if args.baseline is not None:
        versions.append(("baseline", str(args.baseline.resolve()), ()))
    per_pool = max(1, args.jobs // len(versions))
    spawn = multiprocessing.get_context("spawn")
    # Fresh interpreters, not forks: forking this process (which holds decoder and pool threads
    # by now) left the worker stuck on a lock before it ran anything, twice.
    pools = {
        name: ProcessPoolExecutor(
            per_pool, mp_context=spawn, initializer=use_code, initargs=(code, settings)
        )
        for name, code, settings in versions
    }
    refs = [str(p.path) for p in pictures if p.reference]
    try:
        t0 = time.perf_counter()
        built = {
            name: pools[name].submit(build, str(tmp / f"{name}.sqlite"), refs, per_pool)
            for name, _code, _settings in versions
        }
        stored = {name: future.result() for name, future in built.items()}
        print(f"databases built in {time.perf_counter() - t0:.0f} s")
        t0 = time.perf_counter()
        futures: dict[str, list[Future[dict[str, Any]]]] = {name: [] for name, *_ in versions}
        for job in jobs:
            for name, *_ in versions:
                db = str(tmp / f"{name}.sqlite")
                futures[name].append(pools[name].submit(query, db, job, name == "provcheck"))
        results = {name: [f.result() for f in fs] for name, fs in futures.items()}
        print(
            f"{len(jobs)} queries x {len(versions)} versions in {time.perf_counter() - t0:.0f} s"
            f" ({per_pool} process(es) per version)"
        )
    finally:
        for pool in pools.values():
            pool.shutdown()
    return [Run(name, code, stored[name], results[name]) for name, code, _ in versions]


def main() -> None:
    args = _parser().parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        corpus_dir = args.cache or tmp / "corpus"
        corpus_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        if args.corpus == "devset":
            pictures = build_devset_corpus(args.devset, corpus_dir)
        else:
            pictures = build_soft_corpus(corpus_dir, args.seed)
        n_refs = sum(p.reference for p in pictures)
        n_flat = sum(p.flat for p in pictures)
        print(
            f"corpus {args.corpus}: {len(pictures)} images ({n_refs} references,"
            f" {len(pictures) - n_refs} distractors; {n_flat} of all flat or near-flat, made"
            f" here), built in {time.perf_counter() - t0:.0f} s"
        )
        jobs, truth = _draw(args, pictures)
        runs = _run(args, tmp, pictures, jobs)
        details = report(runs, jobs, truth, pictures)
        if args.details is not None:
            with args.details.open("w", encoding="utf-8") as out:
                for row in details:
                    out.write(json.dumps(row) + "\n")
            print(f"\nper-query details: {args.details}")


if __name__ == "__main__":
    Image.MAX_IMAGE_PIXELS = None
    main()
