"""Placing a still in time among near-identical frames of one video, by the pixels where they
differ (matching/moment.py, matching/placement.py)."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
from click.testing import CliRunner
from PIL import Image

from provcheck.cli import cli
from provcheck.matching.moment import Candidate, place, same_framing


def _scene(ball_x: int | None, size: tuple[int, int] = (160, 120)) -> np.ndarray:
    """A fixed camera: a textured wall, and a small ball at ``ball_x`` (None: no ball)."""
    rng = np.random.default_rng(5)
    coarse = (rng.random((size[1] // 4, size[0] // 4)) * 120 + 40).astype(np.uint8)
    wall = np.asarray(Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)).copy()
    if ball_x is not None:
        wall[56:64, ball_x : ball_x + 8] = 250
    return np.repeat(wall[:, :, None], 3, axis=2)


def test_the_frame_the_ball_is_in_wins_and_the_others_are_ruled_out():
    candidates = {i: Candidate(_scene(x)) for i, x in enumerate((20, 60, 100, 140))}
    query = _scene(100)  # the ball where frame 2 has it
    placement = place(query, candidates)
    assert placement is not None
    assert placement.best == 2
    assert placement.possible == {2}


def test_a_frozen_picture_rules_nothing_out():
    candidates = {i: Candidate(_scene(60)) for i in range(4)}
    placement = place(_scene(60), candidates)
    assert placement is not None
    assert placement.possible == {0, 1, 2, 3}
    assert placement.compared == 0


def test_a_crop_that_leaves_out_what_moved_rules_nothing_out():
    candidates = {
        i: Candidate(_scene(x), (0.0, 0.0, 1.0, 1.0), (0.0, 0.7, 1.0, 0.3))
        for i, x in enumerate((20, 100))
    }
    query = _scene(100)[84:120]  # the bottom strip: no ball in it
    placement = place(query, candidates)
    assert placement is not None
    assert placement.possible == {0, 1}


def test_a_tone_curve_on_the_query_still_places_it():
    candidates = {i: Candidate(_scene(x)) for i, x in enumerate((20, 60, 100, 140))}
    toned = (255 * (_scene(60) / 255.0) ** 0.6).astype(np.uint8)  # gamma, as a re-post's edit
    placement = place(toned, candidates)
    assert placement is not None and placement.best == 1


def test_frames_of_another_framing_are_not_compared_pixel_by_pixel():
    panned = np.roll(_scene(60), 12, axis=1)  # the camera moved
    candidates = {0: Candidate(_scene(60)), 1: Candidate(_scene(100)), 2: Candidate(panned)}
    assert same_framing(candidates, 0) == {0, 1}


def _starfield(shift: int) -> np.ndarray:
    """A sparse picture, mostly black (a night sky): 60 stars, seen ``shift`` px further on."""
    rng = np.random.default_rng(3)
    sky = np.zeros((120, 400), dtype=np.uint8)
    for x, y in zip(rng.integers(0, 400, 60), rng.integers(0, 120, 60), strict=True):
        sky[y : y + 2, x : x + 2] = 230
    return np.repeat(sky[:, shift : shift + 160, None], 3, axis=2)


def test_a_sparse_picture_the_camera_moved_over_is_another_framing():
    """Few of a starfield's pixels differ after a pan (under a tenth), as few as when one ball
    moves on a wall; but moved back by the pan, the two skies differ nowhere."""
    candidates = {0: Candidate(_starfield(0)), 1: Candidate(_starfield(30))}
    assert same_framing(candidates, 0) == {0}
    candidates = {0: Candidate(_scene(20)), 1: Candidate(_scene(140))}  # a ball's long way
    assert same_framing(candidates, 0) == {0, 1}


def test_still_of_a_fixed_camera_is_placed_at_its_moment(tmp_path):
    """End to end: a fixed camera where only a ball moves (PDQ barely changes); a still at 7.3 s
    must be placed within 2 s of it, or inside a short reported stretch, never confidently
    elsewhere."""
    fps, seconds = 10, 12
    video = tmp_path / "classroom.mp4"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "16"}
        for n in range(fps * seconds):
            x = int(4 + 148 * n / (fps * seconds))
            frame = av.VideoFrame.from_ndarray(_scene(x), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    db = tmp_path / "refs.sqlite"
    runner = CliRunner()
    added = runner.invoke(
        cli, ["db", "add", str(video), "--label", "Class", "--category", "footage", "--db", str(db)]
    )
    assert added.exit_code == 0, added.output
    t = 7.3
    still = tmp_path / "still.jpg"
    Image.fromarray(_scene(int(4 + 148 * t / seconds))).save(still, quality=85)
    scanned = runner.invoke(cli, ["scan", str(still), "--db", str(db), "--format", "json"])
    (result,) = json.loads(scanned.output)["results"]
    first = result["matches"][0]
    stretches = [(first["frame_time"], first["frame_until"] or seconds)]
    stretches += [(s, e or seconds) for s, e in first["same_picture_at"]]
    near = abs(first["frame_time"] - t) <= 2.0
    inside = any(s - 2.0 <= t <= e + 2.0 for s, e in stretches)
    assert near or inside, (t, stretches)


def test_a_crop_of_a_scrolling_starfield_keeps_the_strong_evidence_first(tmp_path):
    """A sparse picture (a starfield, a night sky: mostly black) scrolled far differs in under a
    tenth of its pixels, so ``same_framing`` took frames 2 s apart for one framing, and the
    pixels chose a frame whose match was 12 mirrored keypoints against 70: the report led with
    the wrong moment on the weakest evidence. Pixels now choose only among frames the matcher
    cannot tell apart."""
    from tests.video_samples import write_video

    world = Image.open(Path(__file__).parent / "data" / "chromium-bsu.jpg").convert("RGB")
    frames = [world.crop((14 * i, 12 * i, 14 * i + 480, 12 * i + 360)) for i in range(30)]
    video = write_video(tmp_path / "scroll.mp4", frames)  # 10 frames a second
    moment = 28
    still = tmp_path / "crop.jpg"
    frames[moment].crop((48, 72, 288, 252)).save(still, quality=90)
    db = tmp_path / "refs.sqlite"
    runner = CliRunner()
    args = ["--label", "Scroll", "--category", "game", "--db", str(db)]
    assert runner.invoke(cli, ["db", "add", str(video), *args]).exit_code == 0
    scanned = runner.invoke(cli, ["scan", str(still), "--db", str(db), "--format", "json"])
    (result,) = json.loads(scanned.output)["results"]
    first = result["matches"][0]
    strongest = max(m["inliers"] or 0 for m in result["matches"])
    assert first["inliers"] >= strongest / 2, result["matches"]
    assert abs(first["frame_time"] - moment / 10) <= 2.0
