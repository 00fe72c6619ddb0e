"""The HTML evidence report for videos: a clip's segments show its keyframe beside the reference
frame with both time ranges; a still matched to a video shows the reference frame and its time;
a missing picture says why."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from provcheck.cli import cli
from tests.video_samples import frames_for, scene_frame, write_scenes, write_video


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report_video")
    reference = write_scenes(folder / "reference.mp4", [(21, 3.0), (22, 3.0), (23, 3.0)])
    runner = CliRunner()
    dbs = {}
    for name, extra in (("with", []), ("without", ["--no-thumbnails"])):
        dbs[name] = folder / f"{name}.sqlite"
        args = ["db", "add", str(reference), "--label", "Strike video", "--category", "footage"]
        done = runner.invoke(cli, [*args, "--db", str(dbs[name]), *extra])
        assert done.exit_code == 0, done.output
    clip = write_video(folder / "clip.mp4", frames_for([(22, 3.0)], 10))
    still = folder / "still.png"
    scene_frame(23, 1.0).save(still)
    return dbs, clip, still


def _html(target, db) -> str:
    result = CliRunner().invoke(cli, ["scan", str(target), "--db", str(db), "--format", "html"])
    assert result.exit_code == 1, result.output
    return result.output


def test_clip_segments_show_keyframe_beside_reference_frame_with_both_ranges(material):
    dbs, clip, _ = material
    page = _html(clip, dbs["with"])
    block = page[page.index("Segment 1: clip") :]
    block = block[: block.index("</p>")]
    assert block.count("<img ") == 2  # the clip's keyframe and the reference frame
    assert re.search(r"clip 00:00:00\.0&ndash;00:00:0\d\.\d = reference 00:00:0[23]\.\d", block)
    assert "frame at 00:00:0" in block
    assert "no preview of the input" not in page


def test_still_matched_to_a_video_shows_the_frame_and_its_time(material):
    dbs, _, still = material
    page = _html(still, dbs["with"])
    assert re.search(r"reference: Strike video, frame at 00:00:0[67]\.\d", page)
    assert page.count("<img ") == 2


def test_missing_reference_picture_says_why(material):
    dbs, clip, still = material
    for target in (clip, still):
        page = _html(target, dbs["without"])
        assert "added with --no-thumbnails" in page
        assert "hash-only import" not in page
