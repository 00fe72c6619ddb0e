"""Text output cannot be forged (issue 18, item 6): whatever a file name, a label, an imported
origin, a URL or a server's error says, the text report and the db commands print it as one
harmless line. JSON keeps the exact string (its own escaping makes it safe)."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from http.server import BaseHTTPRequestHandler

import pytest

from tests.hostile_corpus import invoke, no_terminal_controls, stderr_lines
from tests.http_fixtures import loopback_server

pytestmark = pytest.mark.slow

FORGED = '\nMATCH  forged.jpg: "Fake Game" (game); confidence 1.00'
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b]52;c;ZXZpbA==\x07\u202e\x9b31m"


def _clean(result, *, lines: int | None = None) -> list[str]:
    """The output's lines after checking that neither stream holds terminal controls."""
    out, err = result.stdout.decode("utf-8"), result.stderr.decode("utf-8")
    assert no_terminal_controls(out), out
    assert no_terminal_controls(err), err
    flags = ("flag ", "metadata: ")  # a result's metadata lines, indented under it
    got = [line for line in out.splitlines() if not line.lstrip().startswith(flags)]
    if lines is not None:
        assert len(got) == lines, got
    return got


def test_file_names_cannot_forge_lines_or_send_escapes(tmp_path, pictures, ref_db):
    folder = tmp_path / "inbox"
    folder.mkdir()
    shutil.copy(pictures["unknown"], folder / f"a{FORGED}.jpg")
    shutil.copy(pictures["unknown"], folder / f"b{ESCAPES}.jpg")
    (folder / f"c{ESCAPES}{FORGED}.jpg").write_bytes(b"\xff\xd8 not a picture")
    result = invoke("scan", folder, "--db", ref_db, "-j", "1")
    assert result.returncode == 2
    lines = _clean(result, lines=4)  # three results and the summary
    assert not [line for line in lines if line.startswith("MATCH")]
    assert lines[2].startswith("ERROR")

    as_json = invoke("scan", folder, "--db", ref_db, "--format", "json", "-j", "1")
    names = sorted(r["input"].rsplit("/", 1)[1] for r in json.loads(as_json.stdout)["results"])
    assert names == sorted(p.name for p in folder.iterdir())  # JSON keeps the exact names


def test_labels_with_controls_are_refused_at_the_door(tmp_path, pictures):
    db = tmp_path / "refs.sqlite"
    for option, value in (("--label", f"Game{FORGED}"), ("--url", f"https://x.example/{ESCAPES}")):
        args = {"--label": "Game", "--url": "https://x.example/", option: value}
        added = invoke(
            "db", "add", pictures["known"], "--db", db, "--category", "game",
            *(part for pair in args.items() for part in pair),
        )  # fmt: skip
        assert added.returncode == 2
        _clean(added)
        assert len(stderr_lines(added)) == 1


def test_provenance_in_a_database_is_printed_harmlessly(tmp_path, pictures):
    """A database made by hand (or by an older provcheck) may hold anything in its text."""
    db = tmp_path / "refs.sqlite"
    added = invoke("db", "add", pictures["known"], "--db", db, "--category", "game", "--label", "G")
    assert added.returncode == 0, added.stderr
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "UPDATE sources SET label = ?, url = ?, notes = ?, license = ?, first_seen = ?",
            (f"Game{FORGED}{ESCAPES}", f"https://x/{ESCAPES}", FORGED, ESCAPES, ESCAPES),
        )
        conn.execute("UPDATE items SET origin = ?", (f"/a{ESCAPES}{FORGED}.jpg",))
    for fmt in ("text", "html", "csv"):
        result = invoke("scan", pictures["known"], "--db", db, "-v", "--format", fmt)
        assert result.returncode == 1, result.stderr
        if fmt == "text":
            lines = _clean(result, lines=2)
            assert lines[0].startswith("MATCH") and "Game" in lines[0]
    _clean(invoke("db", "list", "--db", db), lines=2)  # the database's heading and one source
    _clean(invoke("db", "list", "--db", db, "--items", "1"), lines=2)
    _clean(invoke("db", "stats", "--db", db))


def _known_pdq_hex(tmp_path, picture) -> str:
    scratch = tmp_path / "scratch.sqlite"
    added = invoke("db", "add", picture, "--db", scratch, "--label", "S", "--category", "game")
    assert added.returncode == 0, added.stderr
    exported = invoke("db", "export", "--db", scratch)
    items = [json.loads(line) for line in exported.stdout.decode().splitlines()[2:]]
    return next(h["hex"] for h in items[0]["hashes"] if h["kind"] == "pdq")


def test_imported_origins_are_printed_harmlessly(tmp_path, pictures):
    pdq = _known_pdq_hex(tmp_path, pictures["known"])
    export = tmp_path / "hostile.jsonl"
    records = [
        {"format": "provcheck-export", "version": 1},
        {"type": "source", "key": 1, "label": "Partner", "category": "footage",
         "url": "https://p.example/", "notes": f"{ESCAPES}{FORGED}", "license": ESCAPES},
        {"type": "item", "source": 1, "origin": f"{ESCAPES}{FORGED}", "item_key": "k1",
         "hashes": [{"kind": "pdq", "hex": pdq, "quality": 100, "region": None}]},
    ]  # fmt: skip
    export.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    db = tmp_path / "imported.sqlite"
    imported = invoke("db", "import", export, "--db", db)
    assert imported.returncode == 0, imported.stderr
    _clean(imported)
    result = invoke("scan", pictures["known"], "--db", db)
    assert result.returncode == 1
    lines = _clean(result, lines=2)
    assert lines[0].startswith("MATCH")
    _clean(invoke("db", "list", "--db", db), lines=3)  # the heading, the source, its pack
    _clean(invoke("db", "list", "--db", db, "--items", "1"), lines=2)


def test_urls_and_server_messages_are_printed_harmlessly(ref_db):
    class Hostile(BaseHTTPRequestHandler):
        def do_GET(self):
            # A reason phrase is Latin-1 on the wire: the C0 and C1 escapes fit in it.
            self.send_response(404, "Not Found\x1b]0;pwned\x07\x1b[2J\x9b31m\rMATCH  x")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args):
            return None

    with loopback_server(Hostile) as base:
        result = invoke(
            "scan", f"{base}/x{ESCAPES}.jpg", f"http://127.0.0.1:9/{ESCAPES}{FORGED}.jpg",
            "--db", ref_db, "--allow-private",
        )  # fmt: skip
    assert result.returncode == 2
    lines = _clean(result, lines=3)
    assert [line[:5] for line in lines[:2]] == ["ERROR", "ERROR"]


def test_error_messages_on_stderr_are_one_harmless_line(tmp_path, pictures):
    missing = tmp_path / f"no{ESCAPES}{FORGED}.sqlite"
    result = invoke("scan", pictures["known"], "--db", missing)
    assert result.returncode == 2
    _clean(result)
    assert len(stderr_lines(result)) == 1
    folder = tmp_path / "refs"
    folder.mkdir()
    (folder / f"bad{ESCAPES}{FORGED}.jpg").write_bytes(b"GIF89a broken")
    shutil.copy(pictures["known"], folder / "good.jpg")
    added = invoke(
        "db", "add", folder, "--db", tmp_path / "x.sqlite", "--label", "L", "--category", "game"
    )
    assert added.returncode == 2
    _clean(added)
    assert len(stderr_lines(added)) == 1


def test_terminal_escaping_is_idempotent_and_keeps_plain_text():
    from provcheck.report.terminal import for_terminal

    hostile = f"a{FORGED}{ESCAPES}\ud800\udce9\t\r"
    once = for_terminal(hostile)
    assert no_terminal_controls(once) and "\n" not in once
    assert for_terminal(once) == once
    plain = "Battle for Wesnoth — café 日本 (2015)"
    assert for_terminal(plain) == plain
