"""The CLI in-process (CliRunner) against temporary databases."""

from __future__ import annotations

import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from provcheck.cli import cli


def run(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


@pytest.fixture
def ref_db(backend, stills):
    """A reference database holding the Wesnoth still: once a SQLite file, once a PostgreSQL
    store (its owner's URL), so every command below is tested on both backends."""
    db_path = backend.location
    result = run(
        "db",
        "add",
        stills["wesnoth"],
        "--label",
        "Battle for Wesnoth",
        "--category",
        "game",
        "--url",
        "https://wesnoth.example",
        "--first-seen",
        "2015-06-01",
        "--db",
        db_path,
        "--jobs",
        1,
    )
    assert result.exit_code == 0, result.output
    return db_path


def test_version_and_help_on_every_command():
    assert "provcheck, version" in run("--version").output
    for command in (
        ["scan"],
        ["db"],
        ["db", "add"],
        ["db", "list"],
        ["db", "stats"],
        ["db", "remove"],
        ["db", "export"],
        ["db", "import"],
    ):
        result = run(*command, "--help")
        assert result.exit_code == 0
        assert "Example" in result.output, command


def test_db_add_is_idempotent_and_listed(ref_db, stills):
    again = run(
        "db",
        "add",
        stills["wesnoth"],
        "--label",
        "Battle for Wesnoth",
        "--category",
        "game",
        "--db",
        ref_db,
    )
    assert "0 added, 1 already present" in again.output
    listing = json.loads(run("db", "list", "--db", ref_db, "--format", "json").stdout)
    assert listing[0]["rows"][0]["label"] == "Battle for Wesnoth"
    assert listing[0]["rows"][0]["items"] == 1
    items = run("db", "list", "--db", ref_db, "--items", 1).output
    assert "wesnoth.jpg" in items


def test_scan_match_json_has_provenance_and_exit_1(ref_db, stills):
    result = run(
        "scan",
        stills["wesnoth"],
        stills["supertuxkart"],
        "--db",
        ref_db,
        "--format",
        "json",
        "--claimed-date",
        "2024-03-01",
    )
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    first, second = doc["results"]
    assert first["status"] == "match" and second["status"] == "clean"
    best = first["matches"][0]
    for key in (
        "origin",
        "label",
        "category",
        "url",
        "first_seen",
        "frame_time",
        "confidence",
        "distances",
    ):
        assert key in best
    assert best["label"] == "Battle for Wesnoth"
    assert best["origin"].endswith("wesnoth.jpg")
    assert best["distances"] == {"pdq": 0, "phash": 0}
    assert best["first_seen_before_claim"] is True
    assert best["days_before_claim"] == 3196
    assert doc["summary"]["match"] == 1 and doc["summary"]["clean"] == 1
    assert doc["summary"]["exit_code"] == 1


def test_scan_text_and_jsonl_and_output_file(ref_db, stills, tmp_path):
    text = run("scan", stills["wesnoth"], "--db", ref_db)
    assert text.output.startswith("MATCH  ")
    assert "1 input: 1 match" in text.output
    out = tmp_path / "report.jsonl"
    result = run(
        "scan",
        stills["wesnoth"],
        stills["supertuxkart"],
        "--db",
        ref_db,
        "--format",
        "jsonl",
        "--output",
        out,
    )
    assert result.output == ""
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r.get("status") for r in lines[:2]] == ["match", "clean"]
    assert lines[-1]["summary"]["inputs"] == 2


def test_mirrored_copy_is_flagged(ref_db, stills, tmp_path):
    mirrored = tmp_path / "mirror.png"
    Image.open(stills["wesnoth"]).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(mirrored)
    doc = json.loads(run("scan", mirrored, "--db", ref_db, "--format", "json").stdout)
    assert doc["results"][0]["matches"][0]["transform"] == "mirrored"


def test_bad_inputs_are_reported_and_the_batch_goes_on(ref_db, stills, tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("hello")
    before = _contents(ref_db)
    result = run(
        "scan",
        empty,
        text,
        tmp_path / "missing.jpg",
        stills["wesnoth"],
        "--db",
        ref_db,
        "--format",
        "json",
    )
    assert result.exit_code == 2
    statuses = [r["status"] for r in json.loads(result.stdout)["results"]]
    assert statuses == ["error", "error", "error", "match"]
    errors = [r["error"] for r in json.loads(result.stdout)["results"][:3]]
    assert "empty.jpg" in errors[0] and "notes.png" in errors[1] and "missing.jpg" in errors[2]
    assert _contents(ref_db) == before


def _contents(db: str) -> bytes:
    """A SQLite file's bytes; a server store's full export (previews included)."""
    if db.startswith("postgresql://"):
        return run("db", "export", "--thumbnails", "--db", db).stdout.encode()
    return Path(db).read_bytes()


@pytest.mark.parametrize(
    ("fail_on", "code"), [("any", 2), ("match", 1), ("error", 2), ("never", 0)]
)
def test_fail_on(ref_db, stills, tmp_path, fail_on, code):
    result = run(
        "scan", stills["wesnoth"], tmp_path / "missing.jpg", "--db", ref_db, "--fail-on", fail_on
    )
    assert result.exit_code == code


def test_flat_image_is_insufficient_not_clean(ref_db, tmp_path):
    flat = tmp_path / "night.png"
    Image.new("RGB", (400, 300), (3, 3, 3)).save(flat)
    result = run("scan", flat, "--db", ref_db, "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["results"][0]["status"] == "insufficient"


def test_folder_scan_with_globs_keeps_a_stable_order(ref_db, make_picture, stills):
    for n in range(6):
        make_picture(f"batch/sub/{n}.png", n, format="PNG")
    make_picture("batch/skip.jpg", 7)
    folder = make_picture("batch/a.jpg", 8).parent
    result = run(
        "scan", folder, "--db", ref_db, "--format", "json", "--exclude", "skip.*", "--jobs", 2
    )
    inputs = [r["input"].rsplit("batch/", 1)[1] for r in json.loads(result.stdout)["results"]]
    assert inputs == ["a.jpg"] + [f"sub/{n}.png" for n in range(6)]
    only_png = run("scan", folder, "--db", ref_db, "--format", "json", "--include", "*.png")
    assert len(json.loads(only_png.stdout)["results"]) == 6


def test_stdin(ref_db, stills):
    result = run(
        "scan", "-", "--db", ref_db, "--format", "json", input=stills["wesnoth"].read_bytes()
    )
    assert json.loads(result.stdout)["results"][0]["status"] == "match"


@pytest.fixture
def http_folder(tmp_path, stills):
    root = tmp_path / "www"
    root.mkdir()
    (root / "still.jpg").write_bytes(stills["wesnoth"].read_bytes())
    (root / "page.html").write_text("<html><body>hi</body></html>")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = partial(Quiet, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_urls_image_html_404_and_refused(ref_db, http_folder):
    result = run(
        "scan",
        f"{http_folder}/still.jpg",
        f"{http_folder}/page.html",
        f"{http_folder}/gone.jpg",
        "http://127.0.0.1:9/x.jpg",
        "ftp://example.org/x.jpg",
        "--db",
        ref_db,
        "--format",
        "json",
        "--allow-private",
    )
    results = json.loads(result.stdout)["results"]
    assert results[0]["status"] == "match"
    assert "declares no images" in results[1]["error"]  # a page: its images are scanned
    assert "HTTP 404" in results[2]["error"]
    assert "cannot connect" in results[3]["error"]
    assert results[4]["status"] == "error"  # not a URL scheme we fetch: treated as a missing path
    assert result.exit_code == 2


def test_loopback_urls_are_refused_without_allow_private(ref_db, http_folder):
    result = run("scan", f"{http_folder}/still.jpg", "--db", ref_db, "--format", "json")
    error = json.loads(result.stdout)["results"][0]["error"]
    assert result.exit_code == 2
    assert "127.0.0.1" in error and "--allow-private" in error


def test_foreign_db_is_refused_untouched(tmp_path, stills):
    foreign = tmp_path / "foreign.db"
    foreign.write_text("not a database" * 50)
    before = foreign.read_bytes()
    for args in (
        ["scan", stills["wesnoth"]],
        ["db", "add", stills["wesnoth"], "--label", "x", "--category", "game"],
        ["db", "stats"],
    ):
        result = run(*args, "--db", foreign)
        assert result.exit_code == 2
        assert "not a provcheck database" in result.output
    assert foreign.read_bytes() == before


def test_a_database_server_url_is_a_server_not_a_file(tmp_path, stills, monkeypatch):
    """``--db postgresql://...`` once created a SQLite file named ``postgresql:/user@host/db``.
    Now it names the server (here: a port nobody listens on), whole, and no file appears."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    for args in (
        ["db", "add", stills["wesnoth"], "--label", "x", "--category", "game"],
        ["scan", stills["wesnoth"]],
        ["db", "stats"],
    ):
        result = run(*args, "--db", "postgresql://user:s3cret@127.0.0.1:1/provcheck")
        assert result.exit_code == 2
        assert "provcheck: error: postgresql://user@127.0.0.1:1/provcheck: cannot connect" in (
            result.output
        )
        assert "s3cret" not in result.output
    assert list(workdir.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "x.jpg", "--claimed-date", "yesterday"],
        ["scan", "x.jpg", "--max-distance", "pdq"],
        ["scan", "x.jpg", "--max-distance", "pdq=200"],
        ["scan", "x.jpg", "--max-distance", "sha=3"],
        ["scan", "x.jpg", "--jobs", "0"],
        ["scan", "x.jpg", "--format", "xml"],
        ["db", "add", "x.jpg", "--label", "L", "--category", "movie"],
        ["db", "add", "x.jpg", "--label", "L", "--category", "game", "--first-seen", "2015"],
        ["db", "remove"],
    ],
)
def test_bad_options_exit_2_with_a_message(args, db_path):
    result = CliRunner().invoke(cli, [*args, "--db", str(db_path)])
    assert result.exit_code == 2
    assert "rror" in result.output


def test_db_add_reports_bad_files_and_keeps_the_good_ones(db_path, stills, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff garbage")
    result = run(
        "db",
        "add",
        stills["wesnoth"],
        broken,
        tmp_path / "nope.png",
        "--label",
        "G",
        "--category",
        "game",
        "--db",
        db_path,
    )
    assert result.exit_code == 2
    assert "broken.jpg" in result.output and "nope.png" in result.output
    assert "1 added" in result.output


def test_remove_export_import_round_trip(ref_db, tmp_path, stills):
    dump = tmp_path / "dump.jsonl"
    assert run("db", "export", "--db", ref_db, "-o", dump).exit_code == 0
    copy = tmp_path / "copy.sqlite"
    imported = run("db", "import", dump, "--db", copy)
    assert "1 items added" in imported.output
    assert (
        json.loads(run("scan", stills["wesnoth"], "--db", copy, "--format", "json").stdout)[
            "results"
        ][0]["status"]
        == "match"
    )
    assert (
        "removed source"
        in run("db", "remove", "--source", "Battle for Wesnoth", "--db", copy).output
    )
    assert run("scan", stills["wesnoth"], "--db", copy).exit_code == 0


def test_import_pdq_list_then_scan_matches(tmp_path, stills):
    from provcheck.media.images import load_image
    from provcheck.signals.fingerprint import fingerprint

    pdq = fingerprint(load_image(stills["wesnoth"]).image).hashes["pdq"].hex
    listing = tmp_path / "list.txt"
    listing.write_text(f"{pdq} Wesnoth promo\n")
    db = tmp_path / "db.sqlite"
    assert (
        run(
            "db", "import", listing, "--label", "Partner", "--category", "game", "--db", db
        ).exit_code
        == 0
    )
    doc = json.loads(run("scan", stills["wesnoth"], "--db", db, "--format", "json").stdout)
    best = doc["results"][0]["matches"][0]
    assert best["label"] == "Wesnoth promo" and best["distances"] == {"pdq": 0}


def test_default_databases_are_bundled_pack_plus_user_db(stills, monkeypatch):
    stats = json.loads(run("db", "stats", "--format", "json").stdout)
    assert [s["role"] for s in stats] == ["bundled"]
    assert stats[0]["items"] > 0
    run("db", "add", stills["supertuxkart"], "--label", "Mine", "--category", "other")
    stats = json.loads(run("db", "stats", "--format", "json").stdout)
    assert [s["role"] for s in stats] == ["bundled", "user"]
    monkeypatch.setenv("PROVCHECK_DB", str(stats[1]["path"]))
    only = json.loads(run("db", "stats", "--format", "json").stdout)
    assert [s["role"] for s in only] == ["given"]


def test_bundled_pack_flags_a_devset_still_out_of_the_box(stills):
    result = run("scan", stills["supertuxkart"], "--format", "json")
    best = json.loads(result.stdout)["results"][0]["matches"][0]
    assert best["label"].startswith("SuperTuxKart")
    assert best["category"] == "game"
    assert best["origin"].startswith("devset/frames/supertuxkart/")
