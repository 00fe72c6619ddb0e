"""The summary every format ends with (counts, databases, timing) and the exit status a run's
outcomes give (README, "Exit codes"): one place, whatever the format, for the CLI and serve."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from provcheck import __version__
from provcheck.matching.verdict import ERROR, MATCH, STATUSES, ScanResult

SCHEMA_VERSION = 1


@dataclass(slots=True)
class ScanSummary:
    databases: list[dict[str, Any]] = field(default_factory=list)
    claimed_date: date | None = None
    elapsed_s: float = 0.0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    exit_code: int = 0

    def count(self, result: ScanResult) -> None:
        self.counts[result.status] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "provcheck": __version__,
            "inputs": sum(self.counts.values()),
            **self.counts,
            "claimed_date": self.claimed_date.isoformat() if self.claimed_date else None,
            "databases": self.databases,
            "elapsed_s": round(self.elapsed_s, 3),
            "exit_code": self.exit_code,
        }


FAIL_ON = ("any", "match", "error", "never")


def exit_code(counts: dict[str, int], fail_on: str = "any") -> int:
    """The documented exit status: 2 when an input could not be read, else 1 when something
    matched, else 0 -- restricted to what ``fail_on`` says should fail the run."""
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {FAIL_ON}")
    if counts.get(ERROR, 0) and fail_on in ("any", "error"):
        return 2
    if counts.get(MATCH, 0) and fail_on in ("any", "match"):
        return 1
    return 0
