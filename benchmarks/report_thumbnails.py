"""What previews cost: ``db add`` with and without thumbnails, and a scan rendered as JSON (no
previews carried) against HTML (a preview per matched input), on the devset stills.

    python benchmarks/report_thumbnails.py [--devset ../shared/devset] [--jobs N] [--repeat 3]

Prints figures and ratios against the baseline measured in the same run (best of ``--repeat``).
"""

from __future__ import annotations

import argparse
import io
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from provcheck.matching.matcher import Matcher
from provcheck.matching.references import ReferenceSet
from provcheck.media.targets import Target, walk_folder
from provcheck.report import make_renderer
from provcheck.report.html import thumbnails_from
from provcheck.report.summary import ScanSummary
from provcheck.services.ingest import add_files
from provcheck.services.scan import ScanOptions, scan_targets
from provcheck.store import SourceInfo, open_store

DEFAULT_DEVSET = Path(__file__).resolve().parents[2] / "shared" / "devset"


def _best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    stills = walk_folder(args.devset / "frames")
    info = SourceInfo("devset", "game", first_seen="2015-01-01")
    print(f"{len(stills)} devset stills, jobs={args.jobs}, best of {args.repeat}")
    with tempfile.TemporaryDirectory() as tmp:
        dbs = {}

        def add(thumbnails: bool) -> None:
            db = Path(tmp) / f"t{int(thumbnails)}-{time.perf_counter_ns()}.sqlite"
            with open_store(db, create=True) as store:
                add_files(store, info, stills, jobs=args.jobs, thumbnails=thumbnails)
            dbs[thumbnails] = db

        base = _best(args.repeat, lambda: add(False))
        with_t = _best(args.repeat, lambda: add(True))
        print(f"db add, no thumbnails : {base:.3f} s")
        print(f"db add, thumbnails    : {with_t:.3f} s  ({with_t / base:.2f}x)")
        sizes = [
            n for (n,) in sqlite3.connect(dbs[True]).execute("SELECT length(data) FROM thumbnails")
        ]
        size0, size1 = dbs[False].stat().st_size, dbs[True].stat().st_size
        print(
            f"thumbnail bytes       : mean {statistics.mean(sizes):.0f}, max {max(sizes)}"
            f"; database {size0 / 1e3:.0f} KB -> {size1 / 1e3:.0f} KB ({size1 / size0:.2f}x)"
        )
        targets = [Target("file", str(p)) for p in stills]
        with open_store(dbs[True], readonly=True) as store:
            matcher = Matcher([ReferenceSet(store, ("pdq", "phash"))])
            lookup = thumbnails_from([store])

            def scan(fmt: str) -> int:
                out = io.StringIO()
                renderer = make_renderer(fmt, out, reference_thumbnails=lookup)
                options = ScanOptions(jobs=args.jobs, thumbnails=fmt == "html")
                scan_targets(targets, matcher, options, renderer.result)
                renderer.finish(ScanSummary())
                return len(out.getvalue())

            json_s = _best(args.repeat, lambda: scan("json"))
            html_s = _best(args.repeat, lambda: scan("html"))
            print(f"scan -> json          : {json_s:.3f} s  ({scan('json') / 1e3:.0f} KB)")
            print(
                f"scan -> html          : {html_s:.3f} s  ({html_s / json_s:.2f}x;"
                f" {scan('html') / 1e3:.0f} KB, {len(stills)} matched inputs)"
            )


if __name__ == "__main__":
    main()
