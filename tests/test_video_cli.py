"""Video through the CLI: ``db add`` a reference video, ``scan`` stills and clips against it."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner
from PIL import Image

from provcheck.cli import cli
from tests.video_samples import (
    HEIGHT,
    WIDTH,
    frames_for,
    scene_frame,
    write_audio_only,
    write_gif,
    write_scenes,
    write_solid,
    write_video,
)

SCENES = [(11, 3.0), (12, 3.0), (13, 3.0)]


@pytest.fixture
def reference(tmp_path):
    """A database holding one 9 s reference video of three panning scenes."""
    video = write_scenes(tmp_path / "strike.mp4", SCENES)
    db = tmp_path / "refs.sqlite"
    result = CliRunner().invoke(
        cli,
        [
            "db", "add", str(video), "--db", str(db), "--label", "Strike video",
            "--category", "footage", "--first-seen", "2023-03-01",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return video, db


def scan_json(db, *targets, stdin=None):
    result = CliRunner().invoke(
        cli,
        ["scan", *map(str, targets), "--db", str(db), "--format", "json", "-j", "1"],
        input=stdin,
    )
    return result.exit_code, json.loads(result.stdout)


def test_db_add_stores_timed_frames_of_the_video(reference):
    video, db = reference
    listing = CliRunner().invoke(cli, ["db", "list", "--db", str(db), "--format", "json"])
    [block] = json.loads(listing.stdout)
    [source] = block["rows"]
    assert source["label"] == "Strike video" and source["items"] >= 3
    items = CliRunner().invoke(
        cli, ["db", "list", "--db", str(db), "--items", str(source["id"]), "--format", "json"]
    )
    rows = json.loads(items.stdout)[0]["rows"]
    times = [r["frame_time"] for r in rows]
    assert times == sorted(times) and times[0] == 0.0 and times[-1] < 9.0
    assert all(r["origin"] == str(video.resolve()) for r in rows)
    # every scene is represented
    assert all(any(start <= t < start + 3 for t in times) for start in (0, 3, 6))


def test_adding_the_same_video_again_changes_nothing(reference):
    video, db = reference
    again = CliRunner().invoke(
        cli, ["db", "add", str(video), "--db", str(db), "--label", "Strike video",
              "--category", "footage"],
    )  # fmt: skip
    assert again.exit_code == 0
    assert " 0 added" in again.stdout and "already present" in again.stdout


def test_frame_every_sets_how_often_a_static_video_is_sampled(tmp_path):
    # a slowly panning scene: below the change threshold frame to frame, so the gap decides
    frames = [scene_frame(5, i / 40) for i in range(80)]  # 8 s, 0.075 px per frame
    video = write_video(tmp_path / "slow.mp4", frames)
    counts = {}
    for every in ("1", "4"):
        db = tmp_path / f"every{every}.sqlite"
        result = CliRunner().invoke(
            cli, ["db", "add", str(video), "--db", str(db), "--label", "Slow",
                  "--category", "footage", "--frame-every", every],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        stats = CliRunner().invoke(cli, ["db", "stats", "--db", str(db), "--format", "json"])
        counts[every] = json.loads(stats.stdout)[0]["video_frames"]
    assert counts["1"] > counts["4"] >= 1


def test_batch_with_broken_videos_goes_on_and_keeps_what_was_stored(reference, tmp_path):
    _, db = reference
    before = CliRunner().invoke(cli, ["db", "stats", "--db", str(db), "--format", "json"])
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\xff" * 5000)
    audio = write_audio_only(tmp_path / "audio.mkv")
    solid = write_solid(tmp_path / "grey.mp4", frames=300)
    good = write_scenes(tmp_path / "other.mp4", [(21, 2.0)])
    result = CliRunner().invoke(
        cli,
        ["db", "add", str(corrupt), str(audio), str(solid), str(good), "--db", str(db),
         "--label", "Batch", "--category", "footage"],
    )  # fmt: skip
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("provcheck: error")]
    assert len(errors) == 3
    assert (
        "corrupt.mp4" in errors[0] and "audio.mkv" in errors[1] and "no video stream" in errors[1]
    )
    assert "grey.mp4" in errors[2] and "detail" in errors[2]
    assert "3 failed" in result.stdout
    after = CliRunner().invoke(cli, ["db", "stats", "--db", str(db), "--format", "json"])
    old, new = json.loads(before.stdout)[0], json.loads(after.stdout)[0]
    assert new["video_frames"] > old["video_frames"]  # other.mp4 went in
    listing = json.loads(CliRunner().invoke(cli, ["db", "list", "--db", str(db), "--format",
                                                  "json"]).stdout)  # fmt: skip
    counts = {r["label"]: r["items"] for r in listing[0]["rows"]}
    assert counts["Strike video"] == old["video_frames"]


def jpeg_bytes(image: Image.Image, size: tuple[int, int] | None = None) -> bytes:
    out = io.BytesIO()
    (image.resize(size) if size else image).save(out, "JPEG", quality=80)
    return out.getvalue()


@pytest.mark.parametrize("moment", [1.35, 4.65, 7.25])
def test_still_from_between_the_sampled_frames_names_the_video_and_time(
    reference, tmp_path, moment
):
    _, db = reference
    seed, into = SCENES[int(moment // 3)][0], moment % 3
    still = tmp_path / "evidence.jpg"
    still.write_bytes(jpeg_bytes(scene_frame(seed, into), (WIDTH * 2, HEIGHT * 2)))
    code, doc = scan_json(db, still)
    [result] = doc["results"]
    assert code == 1 and result["status"] == "match" and result["kind"] == "image"
    best = result["matches"][0]
    assert best["label"] == "Strike video" and best["first_seen"] == "2023-03-01"
    assert abs(best["frame_time"] - moment) <= 1.0
    assert result["segments"] == []


def test_clip_of_the_reference_gives_a_segment_with_time_ranges(reference, tmp_path):
    _, db = reference
    # 2.5 s from 3.5 s into the reference (inside scene 2 and 3), half resolution
    frames = [im for t, im in frames_for(SCENES, 10) if 3.5 <= t < 6.0 - 1e-9]
    frames += [im for t, im in frames_for(SCENES, 10) if 6.0 <= t < 6.5]
    clip = write_video(tmp_path / "posted.mp4", frames, size=(WIDTH // 2 * 2, HEIGHT // 2 * 2))
    code, doc = scan_json(db, clip)
    [result] = doc["results"]
    assert code == 1 and result["status"] == "match" and result["kind"] == "video"
    assert result["frames_sampled"] >= 2 and result["duration"] > 2.5
    first = result["segments"][0]
    assert first["reference"]["label"] == "Strike video"
    assert first["query_start"] == 0.0
    assert abs(first["reference_start"] - 3.5) <= 1.0
    assert first["reference_end"] - first["reference_start"] >= 1.0
    assert result["matches"][0]["label"] == "Strike video"


def test_text_report_lists_segments(reference, tmp_path):
    _, db = reference
    clip = write_scenes(tmp_path / "posted.mp4", [(12, 2.0)])
    result = CliRunner().invoke(cli, ["scan", str(clip), "--db", str(db), "-j", "1"])
    assert result.exit_code == 1
    assert "MATCH" in result.stdout and "video, 1 matched segment" in result.stdout
    assert "Strike video" in result.stdout


def test_unrelated_clip_is_clean_and_gif_clip_matches(reference, tmp_path):
    _, db = reference
    other = write_scenes(tmp_path / "other.mp4", [(99, 2.0)])
    gif = write_gif(tmp_path / "posted.gif", [(13, 1.5)])
    code, doc = scan_json(db, other, gif)
    statuses = [(r["input"].rsplit("/", 1)[1], r["status"], r["kind"]) for r in doc["results"]]
    assert statuses == [("other.mp4", "clean", "video"), ("posted.gif", "match", "video")]
    assert code == 1


def test_folder_scan_picks_up_videos_and_bad_ones_do_not_stop_it(reference, tmp_path):
    _, db = reference
    folder = tmp_path / "posts"
    folder.mkdir()
    write_scenes(folder / "a_clip.mp4", [(11, 1.5)])
    (folder / "b_broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 100)
    write_solid(folder / "c_grey.mkv", frames=50, size=(32, 32))
    (folder / "d_still.jpg").write_bytes(jpeg_bytes(scene_frame(12, 1.0)))
    (folder / "e_empty.mkv").write_bytes(b"")
    code, doc = scan_json(db, folder)
    got = [(r["input"].rsplit("/", 1)[1], r["status"]) for r in doc["results"]]
    assert got == [
        ("a_clip.mp4", "match"),
        ("b_broken.mp4", "error"),
        ("c_grey.mkv", "insufficient"),
        ("d_still.jpg", "match"),
        ("e_empty.mkv", "error"),
    ]
    assert code == 2
    assert all("\n" not in (r["error"] or "") for r in doc["results"])


def test_video_on_standard_input(reference, tmp_path):
    _, db = reference
    clip = write_scenes(tmp_path / "posted.mp4", [(13, 1.5)])
    code, doc = scan_json(db, "-", stdin=clip.read_bytes())
    [result] = doc["results"]
    assert result["kind"] == "video" and result["status"] == "match" and code == 1


@pytest.mark.slow
def test_installed_entry_point_scans_a_clip(reference, tmp_path):
    _, db = reference
    clip = write_scenes(tmp_path / "posted.mp4", [(11, 1.5)])
    done = subprocess.run(
        [sys.executable, "-m", "provcheck", "scan", str(clip), "--db", str(db), "--format",
         "jsonl"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    record = json.loads(done.stdout.splitlines()[0])
    assert record["kind"] == "video" and record["segments"]


def test_video_frames_survive_export_and_import(reference, tmp_path):
    _, db = reference
    exported = tmp_path / "refs.jsonl"
    assert (
        CliRunner().invoke(cli, ["db", "export", "--db", str(db), "-o", str(exported)]).exit_code
        == 0
    )
    copy = tmp_path / "copy.sqlite"
    done = CliRunner().invoke(cli, ["db", "import", str(exported), "--db", str(copy)])
    assert done.exit_code == 0, done.output
    still = tmp_path / "evidence.jpg"
    still.write_bytes(jpeg_bytes(scene_frame(12, 1.5)))
    _, doc = scan_json(copy, still)
    best = doc["results"][0]["matches"][0]
    assert best["label"] == "Strike video" and abs(best["frame_time"] - 4.5) <= 1.0


def test_video_frames_keep_previews_and_keypoints(reference):
    from provcheck.store import open_store

    _video, db = reference
    with open_store(db, readonly=True) as store:
        ids = [item.id for item in store.items()]
        assert set(store.thumbnails(ids)) == set(ids)
        assert set(store.features(ids)) == set(ids)


def test_video_url_is_fetched_and_scanned_as_a_clip(reference, tmp_path):
    from tests.http_fixtures import serve_routes

    _, db = reference
    clip = write_scenes(tmp_path / "posted.mp4", [(12, 1.5)]).read_bytes()
    routes = {
        "/clip.mp4": (200, {"Content-Type": "video/mp4"}, clip),
        "/broken.webm": (200, {"Content-Type": "video/webm"}, b"\x1a\x45\xdf\xa3 not a webm"),
        "/big.mp4": (200, {"Content-Type": "video/mp4", "Content-Length": str(2**40)}, b""),
    }
    with serve_routes(routes) as base:
        result = CliRunner().invoke(
            cli,
            ["scan", f"{base}/clip.mp4", f"{base}/broken.webm", f"{base}/big.mp4",
             "--db", str(db), "--format", "json", "-j", "1", "--allow-private"],
        )  # fmt: skip
    clip_result, broken, big = json.loads(result.stdout)["results"]
    assert clip_result["kind"] == "video" and clip_result["status"] == "match"
    assert clip_result["segments"][0]["reference"]["label"] == "Strike video"
    assert broken["status"] == "error" and "broken.webm" in broken["error"]
    assert big["status"] == "error" and "video is 1,099,511,627,776 bytes" in big["error"]
    assert result.exit_code == 2


def test_still_from_a_held_picture_reports_the_stretch_and_where_else_it_is_shown(tmp_path):
    """A picture held for 5 s, then another scene, then the first picture again: a still of it
    names a frame and says, in JSON and text, how long it is held and where else it is shown."""
    held = scene_frame(21, 0.0)
    images = [held] * 50 + [im for _, im in frames_for([(22, 2.0)], 10)] + [held] * 20
    video = write_video(tmp_path / "held.mp4", images, fps=10)
    db = tmp_path / "refs.sqlite"
    added = CliRunner().invoke(
        cli, ["db", "add", str(video), "--db", str(db), "--label", "Held", "--category", "game"]
    )
    assert added.exit_code == 0, added.output
    still = tmp_path / "still.jpg"
    still.write_bytes(jpeg_bytes(held))
    _, doc = scan_json(db, still)
    best = doc["results"][0]["matches"][0]
    spans = [[best["frame_time"], best["frame_until"]], *best["same_picture_at"]]
    starts = sorted(round(start) for start, _ in spans)
    assert starts == [0, 7]
    first = min(spans)
    assert first[1] is not None and first[1] >= 4.9
    text = CliRunner().invoke(cli, ["scan", str(still), "--db", str(db), "-j", "1"]).output
    said = r"frame at 00:00:00\.0 \(same picture until 00:00:0[56]\.\d\), also shown at 00:00:0[78]"
    assert re.search(said + r"\.\d to the end", text), text
