"""``--format json`` (one document) and ``--format jsonl`` (one line per input, then a summary)."""

from __future__ import annotations

import json
from datetime import date
from typing import IO, Any

from provcheck.matching.verdict import ScanResult
from provcheck.report.records import result_record
from provcheck.report.summary import ScanSummary


class JsonRenderer:
    def __init__(self, out: IO[str], claimed: date | None = None) -> None:
        self.out = out
        self.claimed = claimed
        self.results: list[dict[str, Any]] = []

    def result(self, result: ScanResult) -> None:
        self.results.append(result_record(result, self.claimed))

    def finish(self, summary: ScanSummary) -> None:
        doc = {"results": self.results, "summary": summary.as_dict()}
        json.dump(doc, self.out, indent=2, ensure_ascii=False)
        self.out.write("\n")


class JsonLinesRenderer:
    """Each result as soon as it is decided; the last line is ``{"summary": {...}}``."""

    def __init__(self, out: IO[str], claimed: date | None = None) -> None:
        self.out = out
        self.claimed = claimed

    def result(self, result: ScanResult) -> None:
        self.out.write(json.dumps(result_record(result, self.claimed), ensure_ascii=False) + "\n")
        self.out.flush()

    def finish(self, summary: ScanSummary) -> None:
        self.out.write(json.dumps({"summary": summary.as_dict()}, ensure_ascii=False) + "\n")
