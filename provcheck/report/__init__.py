"""One renderer per output format, all fed the same result records (see ``records``)."""

from __future__ import annotations

from datetime import date
from typing import IO, TYPE_CHECKING, Protocol

from provcheck.matching.verdict import ScanResult
from provcheck.report.summary import ScanSummary

if TYPE_CHECKING:
    from collections.abc import Callable

    from provcheck.matching.match import Match
    from provcheck.report.html import ThumbnailLookup


class Renderer(Protocol):
    """Gets results as they are decided (so text and JSON Lines can stream), then the summary."""

    def result(self, result: ScanResult) -> None: ...

    def finish(self, summary: ScanSummary) -> None: ...


def make_renderer(
    fmt: str,
    out: IO[str],
    claimed: date | None = None,
    *,
    verbose: bool = False,
    reference_thumbnails: ThumbnailLookup | None = None,
    quiet: bool = False,
    colour: bool = False,
    missing_reason: Callable[[Match], str] | None = None,
) -> Renderer:
    """``reference_thumbnails`` finds a match's stored preview (only the HTML report shows them)
    and ``missing_reason`` says why a reference has none; ``quiet`` (matches and errors only) and
    ``colour`` (status words, for terminals) shape the text report; the other formats are for
    machines and files and always hold every result."""
    if fmt == "text":
        from provcheck.report.text import TextRenderer

        return TextRenderer(out, claimed, verbose=verbose, quiet=quiet, colour=colour)
    if fmt in ("json", "jsonl"):
        from provcheck.report.jsonfmt import JsonLinesRenderer, JsonRenderer

        return JsonRenderer(out, claimed) if fmt == "json" else JsonLinesRenderer(out, claimed)
    if fmt == "html":
        from provcheck.report.html import HtmlRenderer

        return HtmlRenderer(
            out,
            claimed,
            reference_thumbnails=reference_thumbnails,
            missing_reason=missing_reason,
        )
    if fmt == "csv":
        from provcheck.report.csvfmt import CsvRenderer

        return CsvRenderer(out, claimed)
    if fmt == "sarif":
        from provcheck.report.sarif import SarifRenderer

        return SarifRenderer(out, claimed)
    raise ValueError(f"unknown format {fmt!r}")


FORMATS = ("text", "json", "jsonl", "html", "csv", "sarif")
#: Formats that show pictures: the scan carries a preview of each matched input only for these.
PICTURE_FORMATS = frozenset({"html"})
