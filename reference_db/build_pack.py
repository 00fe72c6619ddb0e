"""Rebuild ``reference_db/pack.sqlite`` from the devset (real gameplay captures).

    python reference_db/build_pack.py [--devset ../shared/devset]

The pack holds hashes and provenance only, never pixels. Origins are recorded relative to the
devset ("devset/frames/wesnoth/...") so the pack says the same thing on every machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import sys
from pathlib import Path

from provcheck.ingest import add_files
from provcheck.scan import default_jobs
from provcheck.store import SourceInfo, open_store
from provcheck.targets import walk_folder

HERE = Path(__file__).resolve().parent
DEFAULT_DEVSET = HERE.parent.parent / "shared" / "devset"
PACK = HERE / "pack.sqlite"


def build(devset: Path, out: Path) -> dict[str, int]:
    provenance = json.loads((HERE / "sources.json").read_text(encoding="utf-8"))
    with (devset / "MANIFEST.csv").open(newline="", encoding="utf-8") as handle:
        games = sorted({row["game"] for row in csv.DictReader(handle)})
    tmp = out.with_suffix(".tmp")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    with open_store(tmp, create=True) as store:
        for game in games:
            meta = provenance[game]
            info = SourceInfo(
                meta["label"],
                meta["category"],
                meta["url"],
                meta["first_seen"],
                meta["license"],
                meta["notes"],
            )
            stills = walk_folder(devset / "frames" / game)
            report = add_files(
                store,
                info,
                stills,
                jobs=default_jobs(),
                origin_of=lambda p: "devset/" + p.relative_to(devset).as_posix(),
                thumbnails=False,  # the pack ships hashes and provenance, never pixels
            )
            if report.errors:
                raise SystemExit("\n".join(report.errors))
            counts[game] = report.added
    conn = sqlite3.connect(tmp)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("VACUUM")
    conn.close()
    tmp.replace(out)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument("--out", type=Path, default=PACK)
    args = parser.parse_args()
    if not (args.devset / "MANIFEST.csv").exists():
        sys.exit(f"{args.devset}: no MANIFEST.csv; pass --devset PATH")
    counts = build(args.devset, args.out)
    total = sum(counts.values())
    print(
        f"{args.out}: {total} items ({', '.join(f'{g} {n}' for g, n in counts.items())}),"
        f" {args.out.stat().st_size / 1024:.0f} KiB"
    )


if __name__ == "__main__":
    main()
