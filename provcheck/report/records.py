"""Results as plain JSON-ready dicts: the one schema every machine-readable format shares.

The field names here are a public interface (README, "JSON output"); add fields, never rename.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import Any

from provcheck.matching.match import Match
from provcheck.matching.segments import Segment
from provcheck.matching.verdict import ScanResult
from provcheck.report.metadata_view import metadata_record


def days_before_claim(first_seen: str | None, claimed: date | None) -> int | None:
    """Days from the reference's first sighting to the claimed date (positive: seen earlier)."""
    if claimed is None or not first_seen:
        return None
    try:
        return (claimed - date.fromisoformat(first_seen)).days
    except (ValueError, TypeError):  # what a database made by hand may hold
        return None


def describe_days(days: int) -> str:
    """``days_before_claim`` in words, as every human-readable format says it."""
    if days > 0:
        return f"{days} day{'s' if days != 1 else ''} before the claimed date"
    if days < 0:
        return f"{-days} day{'s' if days != -1 else ''} after the claimed date"
    return "on the claimed date"


def format_frame_time(seconds: float) -> str:
    """Seconds into a video as HH:MM:SS.t."""
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}.{int(seconds % 1 * 10)}"


#: A stored frame's stretch is spelled out when longer than this (seconds): shorter ones are the
#: ordinary spacing of sampled frames, and the frame time alone is as precise as a reader needs.
LONG_STRETCH_S = 2.0
#: Other times showing the same picture listed in one line; the JSON record has all of them.
SAME_PICTURE_LISTED = 3


def _span(start: float, end: float | None) -> str:
    if end is None:
        return f"{format_frame_time(start)} to the end"
    if end - start > LONG_STRETCH_S:
        return f"{format_frame_time(start)}-{format_frame_time(end)}"
    return format_frame_time(start)


def describe_frame_times(
    frame_time: float, shown_at: tuple[tuple[float, float | None], ...]
) -> str:
    """The frame time, with the stretch the picture is held for when that is long, and the other
    times the reference video shows the same picture (the still cannot tell them apart)."""
    text = format_frame_time(frame_time)
    if not shown_at:
        return text
    start, end = shown_at[0]
    if end is not None and end - start > LONG_STRETCH_S:
        text += f" (same picture until {format_frame_time(end)})"
    others = shown_at[1:]
    if others:
        listed = ", ".join(_span(s, e) for s, e in others[:SAME_PICTURE_LISTED])
        more = len(others) - SAME_PICTURE_LISTED
        text += f", also shown at {listed}" + (f" and {more} more" if more > 0 else "")
    return text


#: A matched region covering at least this share of a picture's width and height is "the whole
#: picture": keypoints rarely reach the very edge even of an exact copy.
WHOLE_PICTURE = 0.95


def _part(region: Sequence[float] | None, of: str) -> str | None:
    """``50% x 48% of the reference at 25%, 10%``, or None for the whole picture (or unknown)."""
    if region is None or len(region) != 4:
        return None
    x, y, w, h = (float(v) for v in region)
    if w >= WHOLE_PICTURE and h >= WHOLE_PICTURE:
        return None
    return f"{w:.0%} x {h:.0%} of the {of} at {x:.0%}, {y:.0%}"


def describe_keypoints(
    inliers: int,
    query_region: Sequence[float] | None,
    reference_region: Sequence[float] | None,
) -> str | None:
    """Why a keypoint-verified match matched, in words: how many keypoints agree and on which part
    of each picture. A crop matches on part of its reference, so its whole-picture hash distances
    are far above their thresholds; said next to them, this keeps them from reading as a
    contradiction. None when keypoints did not verify the match (its hashes decided)."""
    if inliers <= 0:
        return None
    parts = [p for p in (_part(query_region, "input"), _part(reference_region, "reference")) if p]
    where = " and ".join(parts) if parts else "the whole picture"
    return f"{inliers} keypoint{'s' if inliers != 1 else ''} agree on {where}"


def match_record(match: Match, claimed: date | None) -> dict[str, Any]:
    item, source = match.item, match.item.source
    days = days_before_claim(source.first_seen, claimed)
    return {
        "origin": item.origin,
        "label": source.label,
        "category": source.category,
        "url": source.url,
        "first_seen": source.first_seen,
        "frame_time": item.frame_time,
        "frame_until": match.shown_at[0][1] if match.shown_at else None,
        "same_picture_at": [list(span) for span in match.shown_at[1:]],
        "confidence": match.confidence,
        "distances": dict(sorted(match.distances.items())),
        "transform": match.transform,
        "identical_file": match.identical_file,
        "license": source.license,
        "notes": source.notes,
        "sha256": item.sha256,
        "width": item.width,
        "height": item.height,
        "item_id": item.id,
        "source_id": item.source_id,
        "database": match.database,
        "first_seen_before_claim": None if days is None else days > 0,
        "days_before_claim": days,
        "query_region": list(match.query_region) if match.query_region else None,
        "reference_region": list(match.reference_region) if match.reference_region else None,
        "inliers": match.inliers,
        "pixel_agreement": match.pixel_agreement,
    }


def segment_record(segment: Segment, claimed: date | None) -> dict[str, Any]:
    """One matched stretch of a video query: its time range, the reference's, and the reference
    (the same fields as a match record, from the segment's strongest frame match)."""
    return {
        "query_start": segment.query_start,
        "query_end": segment.query_end,
        "reference_start": segment.reference_start,
        "reference_end": segment.reference_end,
        "frames": segment.frames,
        "evidence": segment.evidence,
        "coverage": segment.coverage,
        "aligned": segment.aligned,
        "keyframe_at": segment.best_at,
        "reference": match_record(segment.best, claimed),
    }


def result_record(result: ScanResult, claimed: date | None) -> dict[str, Any]:
    return finite(
        {
            "input": result.input,
            "status": result.status,
            "matches": [match_record(m, claimed) for m in result.matches],
            "error": result.error,
            "sha256": result.sha256,
            "width": result.width,
            "height": result.height,
            "quality": result.quality,
            "page": result.page,
            "kind": result.kind,
            "segments": [segment_record(s, claimed) for s in result.segments],
            "duration": result.duration,
            "frames_sampled": result.frames_sampled,
            "metadata": metadata_record(result, claimed),
        }
    )


def finite(value: Any) -> Any:
    """``value`` with every float that is not a number (NaN, infinity) as None: JSON has no word
    for them, and a record must stay JSON whatever a database made by hand holds."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value
