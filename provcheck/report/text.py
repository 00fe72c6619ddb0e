"""Readable text: one line per input as it is decided, then a summary line."""

from __future__ import annotations

from datetime import date
from typing import IO

from provcheck.matcher import Match
from provcheck.report.records import (
    ScanSummary,
    days_before_claim,
    describe_days,
    format_frame_time,
)
from provcheck.scan import CLEAN, ERROR, INSUFFICIENT, MATCH, ScanResult

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
    """ "frame at T", with the stretch the picture is held for when that is long, and the other
    times the reference video shows the same picture (the still cannot tell them apart)."""
    text = f"frame at {format_frame_time(frame_time)}"
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


def describe_match(match: Match, claimed: date | None) -> str:
    item, source = match.item, match.item.source
    parts = [f'"{source.label}" ({source.category})']
    if item.frame_time is not None:
        parts.append(describe_frame_times(item.frame_time, match.shown_at))
    parts.append(f"first seen {source.first_seen or 'unknown'}")
    days = days_before_claim(source.first_seen, claimed)
    if days is not None:
        parts.append(describe_days(days))
    distances = ", ".join(f"{k} {v}" for k, v in sorted(match.distances.items()))
    parts.append(f"confidence {match.confidence:.2f} [{distances}]")
    if match.transform != "original":
        parts.append(match.transform)
    text = "; ".join(parts)
    if source.url:
        text += f"; {source.url}"
    return text + f"; origin {item.origin}"


class TextRenderer:
    def __init__(self, out: IO[str], claimed: date | None = None, *, verbose: bool = False) -> None:
        self.out = out
        self.claimed = claimed
        self.verbose = verbose

    def result(self, result: ScanResult) -> None:
        if result.status == MATCH and result.segments:
            self._video(result)
        elif result.status == MATCH:
            best = result.matches[0]
            self.out.write(f"MATCH  {result.input}: {describe_match(best, self.claimed)}\n")
            if self.verbose:
                for other in result.matches[1:]:
                    self.out.write(f"       also: {describe_match(other, self.claimed)}\n")
        elif result.status == CLEAN:
            self.out.write(f"clean  {result.input}\n")
        elif result.status == INSUFFICIENT:
            self.out.write(
                f"insufficient  {result.input}: too little detail to hash meaningfully"
                f" (PDQ quality {result.quality})\n"
            )
        elif result.status == ERROR:
            self.out.write(f"ERROR  {result.error}\n")
        self.out.flush()

    def _video(self, result: ScanResult) -> None:
        shown = result.segments if self.verbose else result.segments[:1]
        n = len(result.segments)
        self.out.write(
            f"MATCH  {result.input}: video, {n} matched segment{'s' if n != 1 else ''}"
            f" ({result.frames_sampled} frames sampled over {result.duration or 0:.1f} s)\n"
        )
        for segment in shown:
            ref = ""
            if segment.reference_start is not None and segment.reference_end is not None:
                ref = (
                    f" = {format_frame_time(segment.reference_start)}-"
                    f"{format_frame_time(segment.reference_end)} of"
                )
            self.out.write(
                f"       {format_frame_time(segment.query_start)}-"
                f"{format_frame_time(segment.query_end)}"
                f"{ref} {describe_match(segment.best, self.claimed)}"
                f" ({segment.frames} frames)\n"
            )
        if n > len(shown):
            self.out.write(f"       ... {n - len(shown)} more segments (--verbose lists them)\n")

    def finish(self, summary: ScanSummary) -> None:
        c = summary.counts
        total = sum(c.values())
        refs = sum(int(d.get("items", 0)) for d in summary.databases)
        self.out.write(
            f"{total} input{'s' if total != 1 else ''}: {c[MATCH]} match, {c[CLEAN]} clean,"
            f" {c[INSUFFICIENT]} insufficient, {c[ERROR]} error"
            f" ({refs} references in {len(summary.databases)} database"
            f"{'s' if len(summary.databases) != 1 else ''}; {summary.elapsed_s:.2f} s)\n"
        )
