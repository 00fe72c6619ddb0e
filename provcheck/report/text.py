"""Readable text: one line per input as it is decided, then a summary line.

``quiet`` keeps only the inputs the exit status counts (matches and unreadable inputs, with their
metadata flag lines: no clean or insufficient inputs, whose flags are signals, not verdicts; no
summary); ``colour`` paints each line's status word for a terminal (``report.style``).
"""

from __future__ import annotations

from datetime import date
from typing import IO

from provcheck.matching.match import Match
from provcheck.matching.verdict import CLEAN, ERROR, INSUFFICIENT, MATCH, ScanResult
from provcheck.report.metadata_view import metadata_record, result_flags, summary_line
from provcheck.report.records import (
    days_before_claim,
    describe_days,
    describe_frame_times,
    describe_keypoints,
    format_frame_time,
)
from provcheck.report.style import paint
from provcheck.report.summary import ScanSummary
from provcheck.report.terminal import for_terminal


def describe_evidence(match: Match) -> str:
    """The distances, and for a keypoint-verified match the keypoints and the matched region:
    ``pdq 112, phash 26; 36 keypoints agree on 50% x 50% of the reference at 25%, 20%``."""
    text = ", ".join(f"{k} {v}" for k, v in sorted(match.distances.items()))
    keypoints = describe_keypoints(match.inliers, match.query_region, match.reference_region)
    return f"{text}; {keypoints}" if keypoints else text


def describe_match(match: Match, claimed: date | None) -> str:
    item, source = match.item, match.item.source
    parts = [f'"{source.label}" ({source.category})']
    if item.frame_time is not None:
        parts.append(f"frame at {describe_frame_times(item.frame_time, match.shown_at)}")
    parts.append(f"first seen {source.first_seen or 'unknown'}")
    days = days_before_claim(source.first_seen, claimed)
    if days is not None:
        parts.append(describe_days(days))
    parts.append(f"confidence {match.confidence:.2f} [{describe_evidence(match)}]")
    if match.transform != "original":
        parts.append(match.transform)
    text = "; ".join(parts)
    if source.url:
        text += f"; {source.url}"
    return text + f"; origin {item.origin}"


class TextRenderer:
    def __init__(
        self,
        out: IO[str],
        claimed: date | None = None,
        *,
        verbose: bool = False,
        quiet: bool = False,
        colour: bool = False,
    ) -> None:
        self.out = out
        self.claimed = claimed
        self.verbose = verbose
        self.quiet = quiet
        self.colour = colour

    def _line(self, text: str, status: str | None = None) -> None:
        """One line of output: whatever names and provenance it holds, it stays one line and
        cannot act on the terminal (``terminal.for_terminal``); only the status word, ours, is
        painted, after that."""
        head = f"{paint(status, self.colour)}  " if status else ""
        self.out.write(head + for_terminal(text) + "\n")

    def result(self, result: ScanResult) -> None:
        if self.quiet and result.status not in (MATCH, ERROR):
            return
        if result.status == MATCH and result.segments:
            self._video(result)
        elif result.status == MATCH:
            best = result.matches[0]
            self._line(f"{result.input}: {describe_match(best, self.claimed)}", "MATCH")
            if self.verbose:
                for other in result.matches[1:]:
                    self._line(f"       also: {describe_match(other, self.claimed)}")
        elif result.status == CLEAN:
            self._line(f"{result.input}", "clean")
        elif result.status == INSUFFICIENT:
            self._line(
                f"{result.input}: too little detail to decide (PDQ quality {result.quality})",
                "insufficient",
            )
        elif result.status == ERROR:
            self._line(f"{result.error}", "ERROR")
        self._metadata(result)
        self.out.flush()

    def _metadata(self, result: ScanResult) -> None:
        """One line per flag; with --verbose, the file's metadata in one line before them."""
        if self.verbose:
            line = summary_line(metadata_record(result, self.claimed))
            if line:
                self._line(f"       metadata: {line}")
        for flag in result_flags(result, self.claimed):
            self._line(f"       flag {flag.name}: {flag.reason}")

    def _video(self, result: ScanResult) -> None:
        shown = result.segments if self.verbose else result.segments[:1]
        n = len(result.segments)
        self._line(
            f"{result.input}: video, {n} matched segment{'s' if n != 1 else ''}"
            f" ({result.frames_sampled} frames sampled over {result.duration or 0:.1f} s)",
            "MATCH",
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
        if self.quiet:
            return
        c = summary.counts
        total = sum(c.values())
        refs = sum(int(d.get("items", 0)) for d in summary.databases)
        self._line(
            f"{total} input{'s' if total != 1 else ''}: {c[MATCH]} match, {c[CLEAN]} clean,"
            f" {c[INSUFFICIENT]} insufficient, {c[ERROR]} error"
            f" ({refs} references in {len(summary.databases)} database"
            f"{'s' if len(summary.databases) != 1 else ''}; {summary.elapsed_s:.2f} s)"
        )
