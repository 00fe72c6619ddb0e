"""The HTML report in a real headless Chromium: it renders, shows its pictures and outlines, and
loads nothing from the network even when reference provenance tries to make it.

Needs Chromium (Debian: ``apt-get install chromium``); skipped, saying so, when none is installed.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from provcheck.cli import cli
from provcheck.report.html import OUTLINE_RGB, HtmlRenderer
from provcheck.report.summary import ScanSummary
from provcheck.signals.thumbnail import make_thumbnail
from tests.report_fixtures import constructed_match, match_result, scene, write_scene

pytestmark = pytest.mark.slow

CHROMIUM = next(
    (
        found
        for name in ("chromium", "chromium-browser", "google-chrome")
        if (found := shutil.which(name))
    ),
    None,
)
needs_browser = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium installed (apt-get install chromium) to render the HTML report",
)


def _chromium(tmp_path: Path, page: Path, *extra: str) -> str:
    assert CHROMIUM is not None
    profile = tmp_path / f"profile-{page.stem}"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--virtual-time-budget=3000",
        f"--user-data-dir={profile}",
        *extra,
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class _Counter(BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def listener():
    """A local HTTP server that records every request (a report must never make one)."""
    handler = type("Handler", (_Counter,), {"hits": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.hits
    server.shutdown()
    server.server_close()


@needs_browser
def test_the_harness_notices_a_network_request(tmp_path, listener) -> None:
    """Control: the same browser and listener do see a page that really loads something."""
    base, hits = listener
    page = tmp_path / "control.html"
    page.write_text(f'<!DOCTYPE html><img src="{base}/control.png">', encoding="utf-8")
    _chromium(tmp_path, page, "--dump-dom")
    assert "/control.png" in hits


@needs_browser
def test_cli_report_renders_with_hostile_provenance_and_fetches_nothing(
    tmp_path, listener, monkeypatch
) -> None:
    base, hits = listener
    ref = write_scene(tmp_path / "ref.jpg", 21)
    write_scene(tmp_path / "other.jpg", 22)
    db = tmp_path / "r.sqlite"
    label = f'<img src="{base}/label.png"><script>document.title="pwned"</script>'
    runner = CliRunner()
    added = runner.invoke(
        cli,
        [
            *("db", "add", str(ref), "--db", str(db), "--label", label, "--category", "game"),
            *("--url", f"{base}/source", "--first-seen", "2015-06-01"),
            *("--note", f'<link rel="stylesheet" href="{base}/note.css">'),
        ],
    )
    assert added.exit_code == 0, added.output
    monkeypatch.chdir(tmp_path)
    report = tmp_path / "report.html"
    scanned = runner.invoke(
        cli,
        [
            *("scan", "ref.jpg", "other.jpg", "--db", str(db), "-j", "1"),
            *("--format", "html", "-o", str(report), "--claimed-date", "2024-03-01"),
        ],
    )
    assert scanned.exit_code == 1, scanned.output
    dom = _chromium(tmp_path, report, "--dump-dom")
    assert "<title>provcheck evidence report</title>" in dom
    assert "pwned" not in dom.split("</title>", 1)[0]
    assert dom.count("<img ") == 2  # query and reference previews, nothing injected
    assert dom.count('src="data:image/') == 2
    assert "&lt;script&gt;" in dom and "<script" not in dom
    days = (date(2024, 3, 1) - date(2015, 6, 1)).days
    assert f"first seen {days} days before the claimed date" in dom
    assert f'href="{base}/source"' in dom  # a link, which the browser did not follow
    assert hits == []


def _outline_boxes(png: Path) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (x0, y0, width, height) of the outline colour: left group, right group."""
    pixels = np.asarray(Image.open(png).convert("RGB"))
    ys, xs = np.nonzero(np.all(pixels == OUTLINE_RGB, axis=2))
    assert len(xs) > 0, "no outline drawn"
    columns = np.unique(xs)
    split = int(np.argmax(np.diff(columns)))
    boxes = []
    for lo, hi in ((columns[0], columns[split]), (columns[split + 1], columns[-1])):
        inside = (xs >= lo) & (xs <= hi)
        y = ys[inside]
        boxes.append((int(lo), int(y.min()), int(hi - lo + 1), int(y.max() - y.min() + 1)))
    return boxes


@needs_browser
def test_screenshot_shows_previews_with_region_outlines(tmp_path) -> None:
    match = constructed_match(
        query_region=(0.25, 0.1, 0.5, 0.4), reference_region=(0.1, 0.2, 0.3, 0.3)
    )
    out = io.StringIO()
    renderer = HtmlRenderer(
        out, date(2024, 3, 1), reference_thumbnails=lambda m: make_thumbnail(scene(31))
    )
    renderer.result(match_result(match, seed=30))
    renderer.finish(ScanSummary(claimed_date=date(2024, 3, 1)))
    page = tmp_path / "regions.html"
    page.write_text(out.getvalue(), encoding="utf-8")
    shot = tmp_path / "regions.png"
    _chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=900,1200")
    (qx, qy, qw, qh), (rx, ry, rw, rh) = _outline_boxes(shot)
    # previews are shown 320 px wide; a 320x200 scene is 320x200 on screen
    assert qx < rx
    assert abs(qw - 0.5 * 320) <= 4 and abs(qh - 0.4 * 200) <= 4
    assert abs(rw - 0.3 * 320) <= 4 and abs(rh - 0.3 * 200) <= 4
    # box offsets inside each picture agree with the region (left edge = 25% / 10% in)
    assert abs((rx - qx) - (320 + 16 + 0.1 * 320 - 0.25 * 320)) <= 4
    assert abs((ry - qy) - (0.2 * 200 - 0.1 * 200)) <= 4
    # and the pictures themselves were drawn: the query picture's area is far from uniform
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    left = int(qx - 0.25 * 320)
    top = int(qy - 0.1 * 200)
    area = pixels[top + 5 : top + 195, left + 5 : left + 315]
    assert area.std() > 20
