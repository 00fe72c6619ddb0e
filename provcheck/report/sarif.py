"""``--format sarif``: SARIF 2.1.0, so code-scanning UIs annotate flagged images in a repository.

Mapping (docs/reports.md, "SARIF"):

- one run, tool ``provcheck``, three rules:
  ``provcheck/match`` (level ``error``: the image is a copy of a known reference, which is what the
  check exists to catch, and what exit status 1 means),
  ``provcheck/error`` (level ``warning``: the input could not be checked, so nothing is known),
  ``provcheck/insufficient`` (level ``note``: too flat to hash; a person has to look);
- one result per input with one of those outcomes (clean inputs produce none), located at the
  input: a relative path as a ``%SRCROOT%``-relative URI, an absolute path as a ``file:`` URI, a URL
  as itself, standard input with no location;
- the best match's public record (records.match_record) in the result's property bag, the input's
  sha256 as a partial fingerprint so repeated runs recognise the same image.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import quote, urlsplit

from provcheck import __version__
from provcheck.matching.verdict import ERROR, INSUFFICIENT, MATCH, ScanResult
from provcheck.report.records import result_record
from provcheck.report.summary import ScanSummary
from provcheck.report.text import describe_match

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"

#: status -> (rule id, level, short description, full description)
RULES: dict[str, tuple[str, str, str, str]] = {
    MATCH: (
        "provcheck/match",
        "error",
        "Image matches a known reference",
        "The image is perceptually the same as a reference picture (a game capture or archived"
        " footage): it is likely recycled, not what it claims to show.",
    ),
    ERROR: (
        "provcheck/error",
        "warning",
        "Image could not be checked",
        "The input could not be read or decoded (missing, corrupt, truncated, too large); it"
        " was not compared with anything.",
    ),
    INSUFFICIENT: (
        "provcheck/insufficient",
        "note",
        "Image has too little detail to check",
        "The image is too flat or dark for a perceptual hash to say anything (PDQ quality"
        " below 50); check it by eye.",
    ),
}


def _rule(status: str) -> dict[str, Any]:
    rule_id, level, short, full = RULES[status]
    return {
        "id": rule_id,
        "name": rule_id.split("/", 1)[1],
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "defaultConfiguration": {"level": level},
        "help": {"text": full},
    }


def artifact_location(target: str) -> dict[str, Any] | None:
    """Where an input lives, as a SARIF artifactLocation (None for standard input)."""
    if target in ("-", "<stdin>"):
        return None
    scheme = urlsplit(target).scheme.lower()
    if scheme in ("http", "https"):
        return {"uri": target}
    path = Path(target)
    if path.is_absolute():
        return {"uri": path.as_uri()}
    posix = PurePosixPath(*path.parts).as_posix()
    return {"uri": quote(posix, safe="/"), "uriBaseId": SRCROOT}


def _message(result: ScanResult, claimed: date | None) -> str:
    if result.status == MATCH:
        return f"{result.input}: {describe_match(result.matches[0], claimed)}"
    if result.status == INSUFFICIENT:
        return f"{result.input}: too little detail to decide (PDQ quality {result.quality})"
    return result.error or f"{result.input}: could not be checked"


def sarif_result(result: ScanResult, claimed: date | None) -> dict[str, Any] | None:
    """The SARIF result for one input, or None for a clean one."""
    if result.status not in RULES:
        return None
    rule_id, level, _, _ = RULES[result.status]
    record = result_record(result, claimed)
    out: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": list(RULES).index(result.status),
        "level": level,
        "message": {"text": _message(result, claimed)},
    }
    location = artifact_location(result.input)
    if location is not None:
        out["locations"] = [{"physicalLocation": {"artifactLocation": location}}]
    if result.sha256:
        out["partialFingerprints"] = {"imageSha256/v1": result.sha256}
    properties: dict[str, Any] = {"status": result.status, "input": result.input}
    if record["matches"]:
        properties["best_match"] = record["matches"][0]
        properties["match_count"] = len(record["matches"])
    if record["metadata"] is not None:
        properties["metadata"] = record["metadata"]
    out["properties"] = properties
    return out


class SarifRenderer:
    """Collects results, then writes one SARIF log (SARIF has no streaming form)."""

    def __init__(self, out: IO[str], claimed: date | None = None) -> None:
        self.out = out
        self.claimed = claimed
        self.results: list[dict[str, Any]] = []

    def result(self, result: ScanResult) -> None:
        found = sarif_result(result, self.claimed)
        if found is not None:
            self.results.append(found)

    def finish(self, summary: ScanSummary) -> None:
        json.dump(self.document(summary), self.out, indent=2, ensure_ascii=False)
        self.out.write("\n")

    def document(self, summary: ScanSummary) -> dict[str, Any]:
        return {
            "$schema": SARIF_SCHEMA,
            "version": SARIF_VERSION,
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "provcheck",
                            "version": __version__,
                            "rules": [_rule(status) for status in RULES],
                        }
                    },
                    "originalUriBaseIds": {SRCROOT: {"uri": Path.cwd().as_uri() + "/"}},
                    "invocations": [
                        {
                            "executionSuccessful": True,
                            "exitCode": summary.exit_code,
                            "properties": {"summary": summary.as_dict()},
                        }
                    ],
                    "results": self.results,
                }
            ],
        }
