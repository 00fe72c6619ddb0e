"""Every ``--db`` command against both backends: a SQLite file and a PostgreSQL store (the same
tests, parametrised by the ``backend`` fixture), plus what is the same across them: an export
moves between backends losslessly, and a password in a URL never reaches any output."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from provcheck.cli import cli
from provcheck.errors import FormatError
from provcheck.services.packs.export import export_lines
from provcheck.services.packs.importing import import_file
from provcheck.store import SourceInfo, open_store
from tests.test_exchange import PDQ_A, _fill


def run(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


def _add(db: str, still, label: str = "Battle for Wesnoth") -> None:
    result = run("db", "add", still, "--label", label, "--category", "game", "--db", db, "-j", 1)
    assert result.exit_code == 0, result.output


def test_init_creates_an_empty_database_once(backend):
    first = run("db", "init", "--db", backend.location)
    assert first.exit_code == 0, first.output
    assert "provcheck reference database, schema " in first.output
    assert "0 items in 0 sources" in first.output
    again = run("db", "init", "--db", backend.location)
    assert again.exit_code == 0 and "0 items" in again.output


def test_list_stats_remove(backend, stills):
    db = backend.location
    _add(db, stills["wesnoth"])
    _add(db, stills["supertuxkart"], label="SuperTuxKart")
    listing = json.loads(run("db", "list", "--db", backend.reader, "--format", "json").stdout)
    sources = listing[0]["rows"]
    assert [(s["label"], s["items"]) for s in sources] == [
        ("Battle for Wesnoth", 1),
        ("SuperTuxKart", 1),
    ]
    items = json.loads(
        run("db", "list", "--items", sources[1]["id"], "--db", db, "--format", "json").stdout
    )
    assert len(items[0]["rows"]) == 1
    stats = json.loads(run("db", "stats", "--db", backend.reader, "--format", "json").stdout)[0]
    assert (stats["sources"], stats["items"], stats["hashes"]) == (2, 2, {"pdq": 2, "phash": 2})
    assert stats["bytes"] > 0
    removed = run("db", "remove", "--source", "SuperTuxKart", "--db", db)
    assert removed.exit_code == 0 and "and its 1 item from" in removed.output
    found = json.loads(
        run("scan", stills["supertuxkart"], "--db", backend.reader, "--format", "json").stdout
    )
    assert found["results"][0]["status"] == "clean"


def test_export_moves_between_backends_losslessly(backend, tmp_path):
    with open_store(tmp_path / "a.sqlite", create=True) as store:
        _fill(store)
        first = list(export_lines(store, thumbnails=True))
    dump = tmp_path / "dump.jsonl"
    dump.write_text("\n".join(first) + "\n")
    with open_store(backend.location, create=True) as copy:
        report = import_file(copy, dump)
        assert (report.items_added, report.sources_created) == (3, 2)
        again = import_file(copy, dump)
        assert (again.items_added, again.items_present) == (0, 3)
    with open_store(backend.reader, readonly=True) as copy:
        assert list(export_lines(copy, thumbnails=True)) == first


def test_import_is_all_or_nothing(backend, tmp_path):
    listing = tmp_path / "hashes.txt"
    listing.write_text(f"{PDQ_A}\nnot-a-hash\n")
    with open_store(backend.location, create=True) as store:
        with pytest.raises(FormatError, match=r"hashes\.txt:2"):
            import_file(store, listing, default_source=SourceInfo("L", "other"))
        assert store.stats()["items"] == 0
    listing.write_text(f"{PDQ_A}\n")
    result = run(
        "db", "import", listing, "--label", "L", "--category", "other", "--db", backend.location
    )
    assert result.exit_code == 0 and "1 items added" in result.output


def test_provcheck_db_names_a_store_for_every_command(backend, stills, monkeypatch):
    monkeypatch.setenv("PROVCHECK_DB", backend.location)
    result = run("db", "add", stills["wesnoth"], "--label", "W", "--category", "game", "-j", 1)
    assert result.exit_code == 0, result.output
    scanned = json.loads(run("scan", stills["wesnoth"], "--format", "json").stdout)
    assert scanned["results"][0]["status"] == "match"
    assert scanned["summary"]["databases"][0]["path"] == backend.display


def test_a_password_in_the_url_reaches_no_output(team_db, stills, tmp_path):
    secret = team_db.passwords["provcheck_owner"]
    db = team_db.owner
    report = tmp_path / "report"
    outputs = []
    for args in (
        ["db", "init"],
        ["db", "add", stills["wesnoth"], "--label", "W", "--category", "game", "-j", 1],
        ["db", "list", "--format", "json"],
        ["db", "stats"],
        ["db", "export", "-o", tmp_path / "dump.jsonl"],
        ["db", "import", tmp_path / "dump.jsonl"],
        ["scan", stills["wesnoth"], "--format", "json"],
        ["scan", stills["wesnoth"], "--format", "html", "-o", report.with_suffix(".html")],
        ["scan", stills["wesnoth"], "--format", "sarif", "-o", report.with_suffix(".sarif")],
        ["scan", stills["wesnoth"], "--format", "csv", "-o", report.with_suffix(".csv")],
        ["db", "remove", "--source", "W"],
    ):
        result = CliRunner().invoke(cli, [*map(str, args), "--db", db])
        assert result.exit_code in (0, 1), (args, result.output)
        outputs.append(result.output)
    wrong = team_db.owner.replace(secret, "Wr0ng-Passw0rd")
    outputs.append(CliRunner().invoke(cli, ["db", "stats", "--db", wrong]).output)
    assert "password authentication failed" in outputs[-1]
    written = [p.read_text(encoding="utf-8") for p in tmp_path.iterdir() if p.is_file()]
    assert len(written) == 4
    for text in outputs + written:
        assert secret not in text and "Wr0ng-Passw0rd" not in text
    assert team_db.url("provcheck_owner", password=False) in outputs[6]


@pytest.mark.slow
def test_the_installed_command_with_a_service_file_and_pgpass(team_db, stills, tmp_path):
    """The real entry point, credentials the libpq way: a service file names the server and the
    database, a .pgpass file holds the password; neither shows in the output."""
    import os
    import subprocess
    import sys

    service_file = tmp_path / "pg_service.conf"
    service_file.write_text(
        f"[newsroom]\nhost=127.0.0.1\nport={team_db.port}\ndbname={team_db.name}\n"
        "user=provcheck_owner\n"
    )
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(
        f"127.0.0.1:{team_db.port}:*:provcheck_owner:{team_db.passwords['provcheck_owner']}\n"
    )
    pgpass.chmod(0o600)
    env = {**os.environ, "PGSERVICEFILE": str(service_file), "PGPASSFILE": str(pgpass)}
    db = "postgresql://?service=newsroom"
    command = [sys.executable, "-m", "provcheck"]
    added = subprocess.run(
        [
            *command,
            "db",
            "add",
            str(stills["wesnoth"]),
            "--label",
            "W",
            "--category",
            "game",
            "--db",
            db,
            "-j",
            "1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    scanned = subprocess.run(
        [*command, "scan", str(stills["wesnoth"]), "--db", db, "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert scanned.returncode == 1, scanned.stderr
    assert json.loads(scanned.stdout)["results"][0]["status"] == "match"
    for text in (added.stdout, added.stderr, scanned.stdout, scanned.stderr):
        assert team_db.passwords["provcheck_owner"] not in text
