"""Placing a still in time among near-identical frames of one video, by the pixels where they
differ (matching/moment.py, matching/placement.py)."""

from __future__ import annotations

import json

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
