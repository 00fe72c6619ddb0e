"""Readable text: one line per input as it is decided, then a summary line."""

from __future__ import annotations

from datetime import date
from typing import IO

from provcheck.matching.match import Match
from provcheck.matching.verdict import CLEAN, ERROR, INSUFFICIENT, MATCH, ScanResult
from provcheck.report.records import (
    days_before_claim,
    describe_days,
    describe_frame_times,
    format_frame_time,
)
from provcheck.report.summary import ScanSummary
from provcheck.report.terminal import for_terminal


def describe_match(match: Match, claimed: date | None) -> str:
    item, source = match.item, match.item.source
    parts = [f'"{source.label}" ({source.category})']
    if item.frame_time is not None:
        parts.append(f"frame at {describe_frame_times(item.frame_time, match.shown_at)}")
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

    def _line(self, text: str) -> None:
        """One line of output: whatever the names and provenance in it say, it stays one line
        and cannot act on the terminal (``terminal.for_terminal``)."""
        self.out.write(for_terminal(text) + "\n")

    def result(self, result: ScanResult) -> None:
        if result.status == MATCH and result.segments:
            self._video(result)
        elif result.status == MATCH:
            best = result.matches[0]
            self._line(f"MATCH  {result.input}: {describe_match(best, self.claimed)}")
            if self.verbose:
                for other in result.matches[1:]:
                    self._line(f"       also: {describe_match(other, self.claimed)}")
        elif result.status == CLEAN:
            self._line(f"clean  {result.input}")
        elif result.status == INSUFFICIENT:
            self._line(
                f"insufficient  {result.input}: too little detail to hash meaningfully"
                f" (PDQ quality {result.quality})"
            )
        elif result.status == ERROR:
            self._line(f"ERROR  {result.error}")
        self.out.flush()

    def _video(self, result: ScanResult) -> None:
        shown = result.segments if self.verbose else result.segments[:1]
        n = len(result.segments)
        self._line(
            f"MATCH  {result.input}: video, {n} matched segment{'s' if n != 1 else ''}"
            f" ({result.frames_sampled} frames sampled over {result.duration or 0:.1f} s)"
        )
        for segment in shown:
            ref = ""
            if segment.reference_start is not None and segment.reference_end is not None:
                ref = (
                    f" = {format_frame_time(segment.reference_start)}-"
                    f"{format_frame_time(segment.reference_end)} of"
                )
            self._line(
                f"       {format_frame_time(segment.query_start)}-"
                f"{format_frame_time(segment.query_end)}"
                f"{ref} {describe_match(segment.best, self.claimed)}"
                f" ({segment.frames} frames)"
            )
        if n > len(shown):
            self._line(f"       ... {n - len(shown)} more segments (--verbose lists them)")

    def finish(self, summary: ScanSummary) -> None:
        c = summary.counts
        total = sum(c.values())
        refs = sum(int(d.get("items", 0)) for d in summary.databases)
        self._line(
            f"{total} input{'s' if total != 1 else ''}: {c[MATCH]} match, {c[CLEAN]} clean,"
            f" {c[INSUFFICIENT]} insufficient, {c[ERROR]} error"
            f" ({refs} references in {len(summary.databases)} database"
            f"{'s' if len(summary.databases) != 1 else ''}; {summary.elapsed_s:.2f} s)"
        )
