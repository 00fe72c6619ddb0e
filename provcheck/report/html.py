"""``--format html``: one self-contained evidence report a photo desk can attach to a ticket.

Self-contained means: inline CSS, pictures as ``data:`` URIs, no script, and a Content Security
Policy that forbids every network load, so opening the file never tells anyone it was opened.
Everything that comes from inputs or reference provenance (paths, labels, URLs, notes) is treated
as hostile: it is escaped on the way in, links are written only for http(s) URLs, and region
boxes are numbers we clamp ourselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from html import escape
from typing import IO, Any
from urllib.parse import urlsplit

from provcheck.matching.match import Match
from provcheck.matching.verdict import CLEAN, ERROR, INSUFFICIENT, MATCH, ScanResult
from provcheck.report.html_metadata import CSS as METADATA_CSS
from provcheck.report.html_metadata import (
    date_alert,
    flag_names,
    metadata_panel,
    other_inputs_section,
)
from provcheck.report.html_video import SHOWN_SEGMENTS, reference_caption, segments_section
from provcheck.report.previews import NO_PREVIEW
from provcheck.report.records import (
    describe_days,
    describe_frame_times,
    describe_keypoints,
    format_frame_time,
    result_record,
)
from provcheck.report.summary import ScanSummary
from provcheck.signals.thumbnail import Thumbnail
from provcheck.store import Store

#: Looks up the stored preview of a match's reference item (None when it has none).
ThumbnailLookup = Callable[[Match], Thumbnail | None]

#: Forbids every fetch (scripts, styles, fonts, frames, non-data: images) and form posts.
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none';"
    " form-action 'none'"
)

#: Colour of the matched-region outline; tests look for it in a screenshot.
OUTLINE_RGB = (255, 0, 200)

_CSS = """
:root { color-scheme: light; --ink: #1d232a; --muted: #5b6570; --line: #d5dbe1; --flag: #b3261e; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0 auto; padding: 24px; max-width: 1100px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 12px; word-break: break-all; }
.meta { color: var(--muted); margin: 0 0 20px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 24px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { background: #f3f5f7; font-weight: 600; }
td.path { word-break: break-all; }
.counts td, .counts th { text-align: center; }
.status { font-weight: 600; text-transform: uppercase; font-size: 12px; letter-spacing: .04em; }
.status-match { color: var(--flag); }
.status-error { color: #8a5a00; }
.status-clean { color: #1e6b34; }
.status-insufficient { color: var(--muted); }
section.case { border: 1px solid var(--line); border-left: 6px solid var(--flag);
               border-radius: 6px; padding: 16px; margin: 0 0 24px; }
.pair { display: flex; flex-wrap: wrap; gap: 16px; margin: 0 0 12px; }
figure { margin: 0; width: 320px; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; overflow-wrap: anywhere; }
.shot { position: relative; display: inline-block; line-height: 0; background: #eef1f4; }
.shot img { display: block; width: 320px; height: auto; }
.region { position: absolute; border: 3px solid rgb(255, 0, 200);
          box-shadow: 0 0 0 1px #fff; pointer-events: none; }
.nopic { width: 320px; height: 180px; display: flex; align-items: center; justify-content: center;
         color: var(--muted); background: #eef1f4; border: 1px dashed var(--line); font-size: 13px;
         line-height: 1.3; text-align: center; padding: 12px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 12px; }
dt { color: var(--muted); }
dd { margin: 0; word-break: break-word; }
.claim { font-weight: 600; color: var(--flag); }
footer { color: var(--muted); font-size: 12px; margin-top: 32px; }
"""


def _e(value: object) -> str:
    """Escape anything for element content or a double-quoted attribute."""
    return escape("" if value is None else str(value), quote=True)


def safe_link(url: str | None) -> str:
    """A link for http(s) URLs, plain escaped text for anything else (javascript:, data:, ...)."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return _e(url)
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        return _e(url)
    return f'<a href="{_e(url)}" rel="noopener noreferrer nofollow">{_e(url)}</a>'


def region_box(region: Sequence[Any] | None) -> tuple[float, float, float, float] | None:
    """Clamp a fractional [x, y, w, h] box to the picture; None for anything not a usable box."""
    if region is None or len(region) != 4:
        return None
    try:
        x, y, w, h = (float(v) for v in region)
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        return None
    x, y = min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)
    w, h = min(max(w, 0.0), 1.0 - x), min(max(h, 0.0), 1.0 - y)
    if w <= 0 or h <= 0:
        return None
    return x, y, w, h


def _picture(thumb: Thumbnail | None, region: Sequence[Any] | None, alt: str, missing: str) -> str:
    if thumb is None:
        return f'<div class="nopic">{_e(missing)}</div>'
    box = region_box(region)
    outline = ""
    if box is not None:
        x, y, w, h = (round(v * 100, 4) for v in box)
        outline = (
            f'<div class="region" style="left:{x}%;top:{y}%;width:{w}%;height:{h}%"'
            ' title="matched region"></div>'
        )
    return f'<div class="shot"><img src="{thumb.data_uri()}" alt="{_e(alt)}">{outline}</div>'


@dataclass(slots=True)
class ReportEntry:
    """One input as the report shows it: its public record plus the pictures."""

    record: dict[str, Any]
    query_thumbnail: Thumbnail | None = None
    reference_thumbnails: list[Thumbnail | None] = field(default_factory=list)
    #: Why a reference picture is missing, per reference thumbnail (the true reason, when known).
    missing: list[str] = field(default_factory=list)
    #: Videos: the clip's keyframes (time -> preview) and, per segment shown, the reference
    #: frame's preview and the reason when there is none.
    keyframes: dict[float, Thumbnail] = field(default_factory=dict)
    segment_pictures: list[tuple[Thumbnail | None, str]] = field(default_factory=list)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _status_cell(status: str) -> str:
    return f'<span class="status status-{_e(status)}">{_e(status)}</span>'


def _summary_section(entries: Sequence[ReportEntry], summary: dict[str, Any]) -> str:
    counts = "".join(f"<td>{int(summary.get(s, 0))}</td>" for s in (MATCH, CLEAN, INSUFFICIENT))
    counts += f"<td>{int(summary.get(ERROR, 0))}</td>"
    rows = []
    for n, entry in enumerate(entries, start=1):
        rec = entry.record
        best = rec["matches"][0] if rec["matches"] else None
        if best is not None:
            detail = (
                f'<a href="#case-{n}">{_e(best["label"])}</a> ({_e(best["category"])}),'
                f" confidence {best['confidence']:.2f}, first seen {_e(best['first_seen'] or '?')}"
            )
        elif rec["status"] == ERROR:
            detail = _e(rec["error"])
        elif rec["status"] == INSUFFICIENT:
            detail = f"too little detail to decide (PDQ quality {_e(rec['quality'])})"
        else:
            detail = ""
        detail += flag_names(rec)
        rows.append(
            f'<tr><td>{n}</td><td class="path">{_e(rec["input"])}</td>'
            f"<td>{_status_cell(rec['status'])}</td><td>{detail}</td></tr>"
        )
    databases = "".join(
        f"<li>{_e(d.get('path'))} ({_e(d.get('role'))}, {_e(d.get('items'))} items)</li>"
        for d in summary.get("databases", [])
    )
    searched = (
        f'<p class="meta">Databases searched:</p><ul class="meta">{databases}</ul>'
        if databases
        else ""
    )
    return (
        '<h2 id="summary">Summary</h2>'
        '<table class="counts"><thead><tr><th>inputs</th><th>match</th><th>clean</th>'
        f"<th>insufficient</th><th>error</th></tr></thead><tbody><tr>"
        f"<td>{int(summary.get('inputs', 0))}</td>{counts}</tr></tbody></table>"
        '<table class="inputs"><thead><tr><th>#</th><th>input</th><th>status</th>'
        f"<th>best match / problem</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"{searched}"
    )


def _details(m: dict[str, Any]) -> str:
    rows: list[tuple[str, str]] = [
        ("label", _e(m["label"])),
        ("category", _e(m["category"])),
        ("url", safe_link(m["url"]) or "unknown"),
    ]
    first_seen = _e(m["first_seen"] or "unknown")
    if m.get("days_before_claim") is not None:
        first_seen += (
            f' &mdash; <span class="claim">first seen {_e(describe_days(m["days_before_claim"]))}'
            "</span>"
        )
    rows.append(("first seen", first_seen))
    if m["frame_time"] is not None:
        shown = [(float(m["frame_time"]), m.get("frame_until"))]
        shown += [(float(start), end) for start, end in m.get("same_picture_at") or []]
        rows.append(("frame time", _e(describe_frame_times(shown[0][0], tuple(shown)))))
    distances = ", ".join(f"{_e(k)} {int(v)}" for k, v in m["distances"].items())
    keypoints = describe_keypoints(
        int(m.get("inliers") or 0), m.get("query_region"), m.get("reference_region")
    )
    rows += [
        ("confidence", f"{float(m['confidence']):.2f}"),
        ("distance", distances or "none"),
        ("keypoints", _e(keypoints or "not verified by keypoints: the hashes decided")),
        ("transform", _e(m["transform"])),
        ("origin", _e(m["origin"])),
        ("license", _e(m["license"] or "unknown")),
    ]
    if m.get("notes"):
        rows.append(("notes", _e(m["notes"])))
    rows.append(("database", _e(m["database"])))
    return "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _frame_time_cell(m: dict[str, Any]) -> str:
    """Where in its video a candidate frame is (frames of one video share label and origin, so
    this is what tells them apart); a still has none."""
    if m.get("frame_time") is None:
        return "&mdash;"
    return _e(format_frame_time(float(m["frame_time"])))


def _case_section(n: int, entry: ReportEntry) -> str:
    rec = entry.record
    best = rec["matches"][0]
    ref_thumb = entry.reference_thumbnails[0] if entry.reference_thumbnails else None
    missing = entry.missing[0] if entry.missing else NO_PREVIEW
    query_thumb = entry.query_thumbnail
    if rec.get("segments"):  # a clip: its strongest segment's keyframe and reference frame
        first = rec["segments"][0]
        best = first["reference"]
        query_thumb = entry.keyframes.get(first.get("keyframe_at"))
        if entry.segment_pictures:
            ref_thumb, missing = entry.segment_pictures[0]
    query = _picture(
        query_thumb,
        best.get("query_region"),
        f"scanned input {rec['input']}",
        "no preview of the input",
    )
    reference = _picture(
        ref_thumb, best.get("reference_region"), f"reference from {best['label']}", missing
    )
    others = ""
    if len(rec["matches"]) > 1:
        rows = "".join(
            f"<tr><td>{_e(m['label'])}</td><td>{_e(m['category'])}</td>"
            f'<td class="path">{_e(m["origin"])}</td><td>{_frame_time_cell(m)}</td>'
            f"<td>{float(m['confidence']):.2f}</td>"
            f"<td>{', '.join(f'{_e(k)} {int(v)}' for k, v in m['distances'].items())}</td>"
            f"<td>{_e(m['first_seen'] or '?')}</td><td>{safe_link(m['url'])}</td></tr>"
            for m in rec["matches"][1:]
        )
        others = (
            "<h3>Other candidates</h3><table><thead><tr><th>label</th><th>category</th>"
            "<th>origin</th><th>frame time</th><th>confidence</th><th>distance</th>"
            f"<th>first seen</th><th>url</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    return (
        f'<section class="case" id="case-{n}"><h2>{n}. {_e(rec["input"])}</h2>{date_alert(rec)}'
        f'<div class="pair"><figure>{query}<figcaption>scanned input</figcaption></figure>'
        f"<figure>{reference}<figcaption>{reference_caption(best)}</figcaption></figure>"
        f"</div>{_details(best)}{metadata_panel(rec)}"
        f"{segments_section(rec, entry.keyframes, entry.segment_pictures, _picture)}"
        f"{others}</section>"
    )


def render_document(
    entries: Sequence[ReportEntry], summary: dict[str, Any], claimed: date | None = None
) -> str:
    """The whole report as one string: summary first, then one section per flagged input."""
    flagged = [
        _case_section(n, entry)
        for n, entry in enumerate(entries, start=1)
        if entry.record["status"] == MATCH and entry.record["matches"]
    ]
    others = other_inputs_section(
        [
            (n, entry.record)
            for n, entry in enumerate(entries, start=1)
            if not (entry.record["status"] == MATCH and entry.record["matches"])
        ]
    )
    claim = f", claimed date {_e(claimed.isoformat())}" if claimed else ""
    body = "".join(flagged) or "<p>No input matched a reference.</p>"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>provcheck evidence report</title><style>{_CSS}{METADATA_CSS}</style></head><body>"
        "<h1>provcheck evidence report</h1>"
        f'<p class="meta">provcheck {_e(summary.get("provcheck"))}{claim};'
        f" {_plural(int(summary.get('inputs', 0)), 'input')} checked in"
        f" {float(summary.get('elapsed_s', 0.0)):.2f} s</p>"
        f"{_summary_section(entries, summary)}"
        f'<h2 id="flagged">Flagged inputs ({len(flagged)})</h2>{body}{others}'
        "<footer>Distances are Hamming distances between perceptual hashes (lower is closer);"
        " confidence is a monotone reading of distance, not a probability. A match says the"
        " pictures look the same, and the first-seen date says when the reference was public:"
        " check both before publishing.</footer>"
        "</body></html>\n"
    )


class HtmlRenderer:
    """Collects results (reports are small: records plus a few KB of preview per match) and writes
    the document at the end, since the summary comes first."""

    def __init__(
        self,
        out: IO[str],
        claimed: date | None = None,
        *,
        reference_thumbnails: ThumbnailLookup | None = None,
        missing_reason: Callable[[Match], str] | None = None,
    ) -> None:
        self.out = out
        self.claimed = claimed
        self.lookup = reference_thumbnails
        self.reason = missing_reason or (lambda _match: NO_PREVIEW)
        self.entries: list[ReportEntry] = []

    def result(self, result: ScanResult) -> None:
        refs: list[Thumbnail | None] = []
        missing: list[str] = []
        pictures: list[tuple[Thumbnail | None, str]] = []
        if result.status == MATCH and result.matches and self.lookup is not None:
            refs = [self.lookup(result.matches[0])]
            missing = [self.reason(result.matches[0])]
            for segment in result.segments[:SHOWN_SEGMENTS]:
                thumb = self.lookup(segment.best)
                pictures.append((thumb, "" if thumb else self.reason(segment.best)))
        entry = ReportEntry(result_record(result, self.claimed), result.thumbnail, refs, missing)
        entry.keyframes, entry.segment_pictures = result.keyframes, pictures
        self.entries.append(entry)

    def finish(self, summary: ScanSummary) -> None:
        self.out.write(render_document(self.entries, summary.as_dict(), self.claimed))
        self.out.flush()


def thumbnails_from(stores: Iterable[Store]) -> ThumbnailLookup:
    """A lookup over the open databases of a scan (a match names its database by path)."""
    by_name = {str(store.path): store for store in stores}

    def lookup(match: Match) -> Thumbnail | None:
        store = by_name.get(match.database)
        if store is None:
            return None
        return store.thumbnails([match.item.id]).get(match.item.id)

    return lookup
