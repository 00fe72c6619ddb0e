"""A pack is lossless where it matters: scanning a copy imported from it gives the verdicts of the
original database, match for match, on crops, mirrors, screenshots and video frames (the cases
that need the keypoints a version-1 export dropped)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from provcheck.cli import cli
from tests.video_samples import scene_frame, write_scenes

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from transforms import TRANSFORMS

DATA = Path(__file__).parent / "data"
EDITS = ("crop_offcentre_50", "crop_centre_50", "mirror", "mirror_crop_offcentre_50", "screenshot")


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def _verdicts(db: Path, queries: list[Path]) -> list[dict]:
    args = ("scan", *map(str, queries), "--db", str(db), "--format", "json", "-j", "1")
    doc = json.loads(_run(*args))
    results = doc["results"]
    for result in results:
        for match in result["matches"]:
            match.pop("database")
        for segment in result.get("segments") or []:
            segment["reference"].pop("database")
    return results


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """A database of two stills and a video (no previews: see the test below for those), the
    edited queries, and a copy imported from its pack."""
    root = tmp_path_factory.mktemp("verdicts")
    video = write_scenes(root / "strike.mp4", [(21, 3.0), (22, 3.0)])
    original = root / "original.sqlite"
    for path, label, category in (
        (DATA / "wesnoth.jpg", "Wesnoth", "game"),
        (DATA / "supertuxkart.jpg", "SuperTuxKart", "game"),
        (video, "Strike video", "footage"),
    ):
        _run("db", "add", str(path), "--db", str(original), "--label", label,
             "--category", category, "--no-thumbnails")  # fmt: skip
    queries = []
    rng = np.random.default_rng(7)
    for name in ("wesnoth", "supertuxkart"):
        picture = Image.open(DATA / f"{name}.jpg").convert("RGB")
        for edit in EDITS:
            path = root / f"{name}-{edit}.png"
            TRANSFORMS[edit](picture, rng).convert("RGB").save(path)
            queries.append(path)
    for seed, t in ((21, 1.3), (22, 2.2)):
        frame = root / f"frame-{seed}.png"
        width, height = scene_frame(seed, t).size
        scene_frame(seed, t, (width * 3, height * 3)).crop((60, 30, 400, 300)).save(frame)
        queries.append(frame)
    pack = root / "pack.jsonl.gz"
    _run("db", "export", "--db", str(original), "-o", str(pack))
    copy = root / "copy.sqlite"
    _run("db", "import", str(pack), "--db", str(copy))
    return original, copy, queries


def test_imported_copy_gives_the_original_verdicts_match_for_match(case):
    original, copy, queries = case
    before, after = _verdicts(original, queries), _verdicts(copy, queries)
    assert after == before
    statuses = [r["status"] for r in before]
    # real partial matches, found through keypoints (a version-1 pack lost them)
    assert statuses == ["match"] * len(queries)
    assert [r["matches"][0]["label"] for r in before[-2:]] == ["Strike video"] * 2
    assert any(m["transform"] == "mirrored" for r in before for m in r["matches"])


def test_a_pack_without_keypoints_loses_the_crops_a_full_pack_keeps(case, tmp_path):
    original, _copy, queries = case
    crops = [q for q in queries if "crop" in q.name]
    stripped = tmp_path / "v1.jsonl"
    lines = _run("db", "export", "--db", str(original)).splitlines()
    header = json.loads(lines[0]) | {"version": 1}
    body = [json.loads(line) for line in lines[1:]]
    for record in body:
        record.pop("features", None)
    stripped.write_text("\n".join(json.dumps(r) for r in [header, *body]) + "\n")
    v1_copy = tmp_path / "v1.sqlite"
    _run("db", "import", str(stripped), "--db", str(v1_copy))
    found = sum(r["status"] == "match" for r in _verdicts(original, crops))
    found_v1 = sum(r["status"] == "match" for r in _verdicts(v1_copy, crops))
    assert found == len(crops) and found_v1 < found


def test_previews_travel_with_thumbnails_and_the_verdicts_stay(tmp_path):
    original = tmp_path / "original.sqlite"
    _run("db", "add", str(DATA / "wesnoth.jpg"), "--db", str(original), "--label", "W",
         "--category", "game")  # fmt: skip
    query = tmp_path / "crop.png"
    picture = Image.open(DATA / "wesnoth.jpg").convert("RGB")
    TRANSFORMS["crop_offcentre_50"](picture, np.random.default_rng(3)).save(query)
    pack = tmp_path / "pack.jsonl"
    _run("db", "export", "--db", str(original), "-o", str(pack), "--thumbnails")
    copy = tmp_path / "copy.sqlite"
    _run("db", "import", str(pack), "--db", str(copy))
    before, after = _verdicts(original, [query]), _verdicts(copy, [query])
    # previews are re-encoded on import (a guard against hostile files), so the pixel agreement
    # may move in its last digits; what is matched, and how, does not
    for result in (before[0], after[0]):
        for match in result["matches"]:
            match.pop("pixel_agreement")
            match.pop("confidence")
    assert [r["status"] for r in after] == [r["status"] for r in before] == ["match"]
    assert after[0]["matches"][0]["item_id"] == before[0]["matches"][0]["item_id"]
    assert after[0]["matches"][0]["inliers"] == before[0]["matches"][0]["inliers"]
