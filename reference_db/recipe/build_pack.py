"""Rebuild ``reference_db/pack.sqlite`` from the devset (real gameplay captures).

    python reference_db/recipe/build_pack.py [--devset ../shared/devset]

The pack holds hashes, provenance and a small preview of each item (at most ``PREVIEW_SIDE`` px,
about 1.5 KB: enough for the evidence report to show a first user the two pictures side by side,
and for a still to be placed in time among a recording's frames; too small to be a copy of the
material). Origins are recorded relative to the devset ("devset/frames/wesnoth/...") so the pack
says the same thing on every machine.

The devset videos go into the pack as sampled frames attached to their game's source, with origin
"devset/videos/<file>" and their frame_time: a video is a recording *of* the game, so it shares the
game's provenance (URL, licence, first sighting), and one source per game keeps ``db list`` short;
the origin and time still say which recording and which moment a match came from.
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import sys
from pathlib import Path

from provcheck.media.targets import walk_folder
from provcheck.services.ingest import add_files
from provcheck.services.video_ingest import add_video
from provcheck.services.workers import default_jobs
from provcheck.store import SourceInfo, open_store

#: reference_db/, which ships as provcheck.bundled; this script sits in recipe/ below it so that the
#: wheel does not ship it (a developer's tool, useless without the devset).
HERE = Path(__file__).resolve().parents[1]
DEFAULT_DEVSET = HERE.parent.parent / "shared" / "devset"
PACK = HERE / "pack.sqlite"
#: Keypoints kept in the pack: it is committed, and ~36 bytes a keypoint on hundreds of video frames
#: would make it several MB. The stills (one every ~2 s of the same recordings) keep 256 and carry
#: partial matching; the video frames are matched by their hashes (copies, re-encodes, thumbnails,
#: mirrors). A user's own database keeps the full 512 on every item.
PACK_STILL_KEYPOINTS = 256
PACK_VIDEO_KEYPOINTS = 0
#: Previews in the pack: smaller than a user's own (160 px, WebP quality 70) to keep the pack
#: under 3 MB with one for each of its ~700 items.
PREVIEW_SIDE, PREVIEW_QUALITY = 112, 60


def build(devset: Path, out: Path) -> tuple[dict[str, int], int]:
    """Items per game (stills and video frames), and how many of them are video frames."""
    provenance = json.loads((HERE / "sources.json").read_text(encoding="utf-8"))
    with (devset / "MANIFEST.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    games = sorted({row["game"] for row in rows})
    tmp = out.with_suffix(".tmp")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    video_frames = 0
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
                thumbnails=True,  # shrunk to PREVIEW_SIDE below
                keypoints=PACK_STILL_KEYPOINTS,
            )
            if report.errors:
                raise SystemExit("\n".join(report.errors))
            counts[game] = report.added
            for row in rows:
                if row["game"] != game or row.get("kind") != "capture_video":
                    continue
                video = add_video(
                    store,
                    report.source_id,
                    devset / row["file"],
                    origin=f"devset/{row['file']}",
                    keypoints=PACK_VIDEO_KEYPOINTS,
                    thumbnails=True,
                )
                if video.error:
                    raise SystemExit(video.error)
                counts[game] += video.frames_added
                video_frames += video.frames_added
    conn = sqlite3.connect(tmp)
    _shrink_previews(conn)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("VACUUM")
    conn.close()
    tmp.replace(out)
    return counts, video_frames


def _shrink_previews(conn: sqlite3.Connection) -> None:
    """Re-encode every stored preview at ``PREVIEW_SIDE`` px, WebP ``PREVIEW_QUALITY``."""
    import io

    from PIL import Image

    rows = conn.execute("SELECT item_id, data FROM thumbnails").fetchall()
    with conn:
        for item_id, data in rows:
            with Image.open(io.BytesIO(data)) as image:
                small = image.convert("RGB")
            small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            small.save(out, "WEBP", quality=PREVIEW_QUALITY, method=6)
            conn.execute(
                "UPDATE thumbnails SET mime = 'image/webp', data = ? WHERE item_id = ?",
                (out.getvalue(), item_id),
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument("--out", type=Path, default=PACK)
    args = parser.parse_args()
    if not (args.devset / "MANIFEST.csv").exists():
        sys.exit(f"{args.devset}: no MANIFEST.csv; pass --devset PATH")
    counts, video_frames = build(args.devset, args.out)
    total = sum(counts.values())
    print(
        f"{args.out}: {total} items ({', '.join(f'{g} {n}' for g, n in counts.items())};"
        f" {video_frames} of them video frames), {args.out.stat().st_size / 1024:.0f} KiB"
    )


if __name__ == "__main__":
    main()
