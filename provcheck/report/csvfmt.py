"""``--format csv``: one row per input, best match only, for spreadsheets and quick triage.

Columns (documented in docs/reports.md; add, never rename or reorder): ``COLUMNS``, with one
``distance_<kind>`` column per registered hash kind. Empty cell = no value. Text that a spreadsheet
would run as a formula (starting with = + - @, tab or carriage return) gets a leading apostrophe.
"""

from __future__ import annotations

import csv
from datetime import date
from typing import IO, Any

from provcheck.matching.verdict import ScanResult
from provcheck.report.metadata_view import CSV_COLUMNS, csv_cells
from provcheck.report.records import result_record
from provcheck.report.summary import ScanSummary
from provcheck.signals.hashes import hasher_names

#: Characters that make Excel, LibreOffice and Google Sheets treat a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

_BEST_MATCH_FIELDS = (
    "label",
    "category",
    "url",
    "first_seen",
    "frame_time",
    "confidence",
)


def columns() -> list[str]:
    return [
        "input",
        "status",
        *_BEST_MATCH_FIELDS,
        *(f"distance_{kind}" for kind in hasher_names()),
        "transform",
        "days_before_claim",
        "match_count",
        "sha256",
        "error",
        *CSV_COLUMNS,
    ]


def safe_cell(value: Any) -> str:
    """Text for one cell: numbers as written, text defused against formula injection."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_row(record: dict[str, Any]) -> list[str]:
    """One input's record (records.result_record) as a row in ``columns()`` order."""
    best = record["matches"][0] if record["matches"] else {}
    distances = best.get("distances", {})
    values: list[Any] = [
        record["input"],
        record["status"],
        *(best.get(name) for name in _BEST_MATCH_FIELDS),
        *(distances.get(kind) for kind in hasher_names()),
        best.get("transform"),
        best.get("days_before_claim"),
        len(record["matches"]),
        record["sha256"],
        record["error"],
        *csv_cells(record["metadata"]),
    ]
    return [safe_cell(v) for v in values]


class CsvRenderer:
    """Writes the header at once and each row as it is decided (RFC 4180: CRLF, minimal quoting)."""

    def __init__(self, out: IO[str], claimed: date | None = None) -> None:
        self.out = out
        self.claimed = claimed
        self.writer = csv.writer(out, lineterminator="\r\n")
        self.writer.writerow(columns())

    def result(self, result: ScanResult) -> None:
        self.writer.writerow(csv_row(result_record(result, self.claimed)))
        self.out.flush()

    def finish(self, summary: ScanSummary) -> None:
        """CSV has no place for a summary: the counts are the status column's tally."""
        del summary
