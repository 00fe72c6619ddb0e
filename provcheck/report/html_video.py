"""The evidence report's video parts: a clip's segments, each with the clip's keyframe beside the
reference frame it matched and both time ranges; and the caption of a still matched to a video.

Pictures come from the scan (``ScanResult.keyframes``: the clip's frames) and from the databases
(the reference frames' stored previews); where one is missing the report says why.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from provcheck.report.records import format_frame_time
from provcheck.signals.thumbnail import Thumbnail

#: Segments shown with pictures; the rest are listed in the segment table's count.
SHOWN_SEGMENTS = 10

Picture = Callable[[Thumbnail | None, Sequence[Any] | None, str, str], str]


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def time_range(start: float | None, end: float | None) -> str:
    if start is None:
        return "a still (no time)"
    if end is None or abs(end - start) < 0.05:
        return format_frame_time(start)
    return f"{format_frame_time(start)}&ndash;{format_frame_time(end)}"


def reference_caption(match: dict[str, Any]) -> str:
    """The reference picture's caption: its label, and for a video frame, its time."""
    caption = f"reference: {_e(match['label'])}"
    if match.get("frame_time") is not None:
        caption += f", frame at {format_frame_time(float(match['frame_time']))}"
    return caption


def segments_section(
    record: dict[str, Any],
    keyframes: dict[float, Thumbnail],
    references: Sequence[tuple[Thumbnail | None, str]],
    picture: Picture,
) -> str:
    """One block per segment (strongest first): the clip's keyframe and the reference frame side
    by side, the clip's time range and the reference's. ``references`` holds, per segment, the
    reference frame's preview and, when there is none, the reason."""
    segments = record.get("segments") or []
    if not segments:
        return ""
    blocks = []
    for n, segment in enumerate(segments[:SHOWN_SEGMENTS]):
        ref = segment["reference"]
        thumb, missing = references[n] if n < len(references) else (None, "no preview looked up")
        at = segment.get("keyframe_at")
        clip_picture = picture(
            keyframes.get(at) if at is not None else None,
            ref.get("query_region"),
            f"frame of {record['input']} at {at}",
            "no preview of the clip's frame (scanned without keypoints, which keep its pixels)",
        )
        ref_picture = picture(
            thumb, ref.get("reference_region"), f"reference from {ref['label']}", missing
        )
        clip_at = "" if at is None else f", frame at {format_frame_time(float(at))}"
        strength = (
            f"{int(segment['frames'])} matching frames, evidence {float(segment['evidence']):.1f}"
            if "evidence" in segment
            else f"{int(segment['frames'])} matching frames"
        )
        blocks.append(
            f'<div class="segment"><h3>Segment {n + 1}: clip'
            f" {time_range(segment['query_start'], segment['query_end'])} = reference"
            f" {time_range(segment['reference_start'], segment['reference_end'])}"
            f" of {_e(ref['label'])}</h3>"
            f'<div class="pair"><figure>{clip_picture}<figcaption>clip{clip_at}</figcaption>'
            f"</figure><figure>{ref_picture}<figcaption>{reference_caption(ref)}</figcaption>"
            f"</figure></div><p>{_e(strength)}"
            f"{'; a time-aligned run' if segment.get('aligned') else ''};"
            f" origin {_e(ref['origin'])}</p></div>"
        )
    more = len(segments) - SHOWN_SEGMENTS
    tail = f"<p>and {more} more segments (JSON has them all)</p>" if more > 0 else ""
    return f"<h3>Matched segments ({len(segments)})</h3>{''.join(blocks)}{tail}"
