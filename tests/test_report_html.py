"""The HTML evidence report as text: structure, escaping of hostile provenance, region boxes."""

from __future__ import annotations

import io
import math
from datetime import date
from html.parser import HTMLParser

import pytest

from provcheck.matching.verdict import CLEAN, ERROR, ScanResult
from provcheck.report.html import (
    CSP,
    HtmlRenderer,
    ReportEntry,
    region_box,
    render_document,
    safe_link,
)
from provcheck.report.records import result_record
from provcheck.report.summary import ScanSummary
from provcheck.signals.thumbnail import make_thumbnail
from tests.report_fixtures import HOSTILE, constructed_match, match_result, scene

CLAIMED = date(2024, 3, 1)


class _Collect(HTMLParser):
    """Every start tag with its attributes, and all text, as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def of(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def _parse(document: str) -> _Collect:
    parser = _Collect()
    parser.feed(document)
    parser.close()
    return parser


def _report(results: list[ScanResult], lookup=None) -> str:
    out = io.StringIO()
    renderer = HtmlRenderer(out, CLAIMED, reference_thumbnails=lookup)
    summary = ScanSummary(claimed_date=CLAIMED, databases=[{"path": "<db>", "role": "given"}])
    for result in results:
        summary.count(result)
        renderer.result(result)
    renderer.finish(summary)
    return out.getvalue()


def test_hostile_provenance_is_inert_text() -> None:
    results = [
        match_result(constructed_match(HOSTILE), name='up<loads>/"x".jpg'),
        ScanResult("/a/<b>broken</b>.jpg", ERROR, error="/a/<b>broken</b>.jpg: file is empty"),
    ]
    doc = _report(results, lookup=lambda m: make_thumbnail(scene(9)))
    parsed = _parse(doc)
    names = {name for name, _ in parsed.tags}
    assert not names & {"script", "iframe", "link", "object", "embed", "b", "base", "form"}
    assert len(parsed.of("style")) == 1  # ours, in <head>
    assert len(parsed.of("img")) == 2
    assert all((a["src"] or "").startswith("data:image/") for a in parsed.of("img"))
    # the javascript: URL is shown, never linked; in-page links only
    assert all((a["href"] or "").startswith("#") for a in parsed.of("a"))
    text = "".join(parsed.text)
    for value in (HOSTILE.label, HOSTILE.license, HOSTILE.notes, HOSTILE.url):
        assert value in text
    assert 'up<loads>/"x".jpg' in text
    assert "/a/<b>broken</b>.jpg: file is empty" in text
    # inline styles only on our region boxes (there are none here), so no CSS can fetch anything
    assert not [attrs for _, attrs in parsed.tags if "style" in attrs]


def test_document_forbids_all_loads() -> None:
    parsed = _parse(_report([match_result(constructed_match())]))
    metas = {a.get("http-equiv"): a.get("content") for a in parsed.of("meta")}
    assert metas["Content-Security-Policy"] == CSP
    assert "default-src 'none'" in CSP and "img-src data:" in CSP


def test_summary_comes_first_then_one_section_per_flagged_input() -> None:
    results = [
        ScanResult("clean.jpg", CLEAN, sha256="00" * 32, quality=90),
        match_result(constructed_match(), name="one.jpg"),
        match_result(constructed_match(), name="two.jpg"),
    ]
    doc = _report(results)
    assert doc.index('id="summary"') < doc.index('id="flagged"') < doc.index('id="case-2"')
    sections = _parse(doc).of("section")
    assert [s["id"] for s in sections] == ["case-2", "case-3"]
    assert 'href="#case-2"' in doc and 'href="#case-3"' in doc


def test_details_show_provenance_distance_confidence_and_claim() -> None:
    info = HOSTILE.__class__("Game", "game", "https://example.org/g?a=1&b=2", "2015-06-01")
    doc = _report([match_result(constructed_match(info))])
    text = "".join(_parse(doc).text)
    days = (CLAIMED - date(2015, 6, 1)).days
    assert f"first seen {days} days before the claimed date" in text
    assert "00:01:23.4" in text  # frame time 83.4 s
    assert "pdq 12, phash 3" in text and "0.81" in text and "mirrored" in text
    links = [a["href"] for a in _parse(doc).of("a") if not (a["href"] or "").startswith("#")]
    assert links == ["https://example.org/g?a=1&b=2"]


def test_region_boxes_are_drawn_where_the_match_says() -> None:
    match = constructed_match(
        query_region=(0.25, 0.1, 0.5, 0.4), reference_region=(0.1, 0.2, 0.3, 0.3)
    )
    doc = _report([match_result(match)], lookup=lambda m: make_thumbnail(scene(9)))
    boxes = [a["style"] for a in _parse(doc).of("div") if a.get("class") == "region"]
    assert boxes == [
        "left:25.0%;top:10.0%;width:50.0%;height:40.0%",
        "left:10.0%;top:20.0%;width:30.0%;height:30.0%",
    ]


def test_no_regions_no_outline_and_missing_reference_preview_is_said() -> None:
    doc = _report([match_result(constructed_match())], lookup=lambda m: None)
    parsed = _parse(doc)
    assert not [a for a in parsed.of("div") if a.get("class") == "region"]
    assert len(parsed.of("img")) == 1  # the query's own preview
    assert "no preview stored for this reference" in "".join(parsed.text)


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ((0.1, 0.2, 0.3, 0.4), (0.1, 0.2, 0.3, 0.4)),
        ((-1, -1, 5, 5), (0.0, 0.0, 1.0, 1.0)),
        ((0.9, 0.9, 0.5, 0.5), (0.9, 0.9, pytest.approx(0.1), pytest.approx(0.1))),
        ((math.nan, 0, 1, 1), None),
        ((0, 0, math.inf, 1), None),
        (("0;background:url(x)", 0, 1, 1), None),
        ((0.5, 0.5, 0, 0.2), None),
        ((0, 0, 1), None),
        (None, None),
    ],
)
def test_region_box_clamps_and_refuses(region, expected) -> None:
    assert region_box(region) == (expected if expected is None else tuple(expected))


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "http://",
        "https://example.org/a b",
        "//example.org/x",
    ],
)
def test_safe_link_refuses_non_web_urls(url: str) -> None:
    out = safe_link(url)
    assert "<a" not in out and "<script" not in out


def test_safe_link_escapes_quotes() -> None:
    out = safe_link('https://example.org/"onmouseover="alert(1)')
    (attrs,) = _parse(out).of("a")
    assert attrs["href"] == 'https://example.org/"onmouseover="alert(1)'
    assert "onmouseover" not in attrs


def test_render_document_takes_records_from_records_module() -> None:
    result = match_result(constructed_match())
    entry = ReportEntry(result_record(result, CLAIMED), result.thumbnail, [None])
    doc = render_document([entry], ScanSummary().as_dict(), CLAIMED)
    assert "uploads/strike.jpg" in doc and "claimed date 2024-03-01" in doc
