"""Reports say why a match matched. A crop matches on part of its reference, so its whole-picture
hash distances are far above their thresholds ("pdq 112" beside a documented 31): the text line
and the HTML report say how many keypoints agree and on which part of each picture."""

from __future__ import annotations

import dataclasses
import io
import re
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner
from PIL import Image

from provcheck.cli import cli
from provcheck.report.html import HtmlRenderer
from provcheck.report.records import describe_keypoints
from provcheck.report.summary import ScanSummary
from provcheck.report.text import describe_match
from provcheck.signals.hashes import get_hasher
from tests.conftest import DATA
from tests.report_fixtures import constructed_match, match_result

LINE = re.compile(
    r"confidence 1\.00 \[pdq (\d+), phash (\d+); (\d+) keypoints agree on"
    r" (\d+)% x (\d+)% of the reference at (\d+)%, (\d+)%\]"
)


def test_a_crop_says_its_keypoints_and_region_beside_the_distances(tmp_path):
    """Half of a bundled-pack still, from (25%, 20%): found by keypoints, and said so."""
    with Image.open(DATA / "wesnoth.jpg") as still:
        w, h = still.size
        still.crop((w // 4, h // 5, w // 4 + w // 2, h // 5 + h // 2)).save(tmp_path / "crop.jpg")
    run = CliRunner().invoke(cli, ["scan", str(tmp_path / "crop.jpg")])
    assert run.exit_code == 1, run.output
    found = LINE.search(run.output)
    assert found, run.output
    pdq, _phash, inliers, rw, rh, rx, ry = map(int, found.groups())
    assert pdq > get_hasher("pdq").max_distance  # the hashes alone would not have matched
    assert inliers >= 8
    assert 45 <= rw <= 55 and 45 <= rh <= 55
    assert 22 <= rx <= 28 and 17 <= ry <= 23


def test_a_whole_copy_says_the_whole_picture():
    run = CliRunner().invoke(cli, ["scan", str(DATA / "wesnoth.jpg")])
    assert re.search(
        r"\[pdq \d+, phash \d+; \d+ keypoints agree on the whole picture\]", run.output
    )


@pytest.mark.parametrize(
    ("inliers", "query", "reference", "expected"),
    [
        (0, None, (0.2, 0.2, 0.5, 0.5), None),  # the hashes decided: nothing to say
        (1, None, None, "1 keypoint agree on the whole picture"),
        (36, (0, 0, 1, 1), (0.25, 0.2, 0.5, 0.5), "36 keypoints agree on 50% x 50% of the"
         " reference at 25%, 20%"),
        (20, (0.3, 0.2, 0.4, 0.35), (0.0, 0.0, 0.99, 0.97), "20 keypoints agree on 40% x 35% of"
         " the input at 30%, 20%"),
        (12, (0.2, 0.0, 0.6, 0.6), (0.25, 0.1, 0.5, 0.48), "12 keypoints agree on 60% x 60% of"
         " the input at 20%, 0% and 50% x 48% of the reference at 25%, 10%"),
    ],
)  # fmt: skip
def test_describe_keypoints(inliers, query, reference, expected):
    assert describe_keypoints(inliers, query, reference) == expected


def test_hash_decided_matches_keep_their_plain_distances():
    assert "[pdq 12, phash 3]" in describe_match(constructed_match(), None)


class _Rows(HTMLParser):
    """The cells of each table row under the "Other candidates" heading."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.in_others = False
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr" and self.in_others:
            self.rows.append([])
        if tag in ("td", "th") and self.in_others:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if data == "Other candidates":
            self.in_others = True
        elif self._cell is not None:
            self._cell.append(data)


def test_html_other_candidates_say_origin_and_frame_time():
    best = constructed_match()
    frame = dataclasses.replace(best.item, id=8, origin="/videos/level1.mp4", frame_time=12.5)
    still = dataclasses.replace(best.item, id=9, origin="/stills/level1.png", frame_time=None)
    result = match_result(best)
    result = dataclasses.replace(
        result,
        matches=[
            best,
            dataclasses.replace(
                best, item=frame, inliers=30, reference_region=(0.1, 0.1, 0.5, 0.5)
            ),
            dataclasses.replace(best, item=still),
        ],
    )
    out = io.StringIO()
    renderer = HtmlRenderer(out)
    renderer.result(result)
    renderer.finish(ScanSummary())
    parser = _Rows()
    parser.feed(out.getvalue())
    header, *rows = parser.rows
    assert header[:4] == ["label", "category", "origin", "frame time"]
    assert [row[2:4] for row in rows] == [
        ["/videos/level1.mp4", "00:00:12.5"],
        ["/stills/level1.png", "\u2014"],
    ]
    document = out.getvalue()
    assert "not verified by keypoints: the hashes decided" in document  # the best: PDQ decided


def test_html_details_say_why_a_keypoint_match_matched():
    match = dataclasses.replace(
        constructed_match(), inliers=36, reference_region=(0.25, 0.2, 0.5, 0.5)
    )
    out = io.StringIO()
    renderer = HtmlRenderer(out)
    renderer.result(match_result(match))
    renderer.finish(ScanSummary())
    assert "36 keypoints agree on 50% x 50% of the reference at 25%, 20%" in out.getvalue()
