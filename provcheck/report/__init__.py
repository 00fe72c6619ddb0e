"""One renderer per output format, all fed the same result records (see ``records``)."""

from __future__ import annotations

from datetime import date
from typing import IO, Protocol

from provcheck.report.records import ScanSummary
from provcheck.scan import ScanResult


class Renderer(Protocol):
    """Gets results as they are decided (so text and JSON Lines can stream), then the summary."""

    def result(self, result: ScanResult) -> None: ...

    def finish(self, summary: ScanSummary) -> None: ...


def make_renderer(
    fmt: str, out: IO[str], claimed: date | None = None, *, verbose: bool = False
) -> Renderer:
    if fmt == "text":
        from provcheck.report.text import TextRenderer

        return TextRenderer(out, claimed, verbose=verbose)
    if fmt in ("json", "jsonl"):
        from provcheck.report.jsonfmt import JsonLinesRenderer, JsonRenderer

        return JsonRenderer(out, claimed) if fmt == "json" else JsonLinesRenderer(out, claimed)
    raise ValueError(f"unknown format {fmt!r}")


FORMATS = ("text", "json", "jsonl")
