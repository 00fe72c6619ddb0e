"""``provcheck serve`` picks up references added while it runs, without a restart, on both
backends; a PostgreSQL URL's password never shows in its stats."""

from __future__ import annotations

import time

from click.testing import CliRunner
from starlette.testclient import TestClient

from provcheck.cli import cli
from provcheck.server import ScanService, ServeSettings, create_app
from provcheck.services.databases import open_references


def _add(db: str, picture, label: str) -> None:
    result = CliRunner().invoke(
        cli, ["db", "add", str(picture), "--label", label, "--category", "game", "--db", db]
    )
    assert result.exit_code == 0, result.output


def _status(client: TestClient, picture) -> str:
    response = client.post("/v1/scan", files={"file": ("q.jpg", picture.read_bytes())})
    return response.json()["results"][0]["status"]


def test_a_reference_added_while_serving_is_matched_without_a_restart(backend, pictures):
    _add(backend.location, pictures["known"], "Known")
    references = open_references([backend.reader])
    service = ScanService(references, ServeSettings(workers=1, refresh_s=0.05))
    try:
        with TestClient(create_app(service)) as client:
            assert _status(client, pictures["known"]) == "match"
            assert _status(client, pictures["unknown"]) == "clean"
            _add(backend.location, pictures["unknown"], "Added later")
            deadline = time.monotonic() + 60
            while _status(client, pictures["unknown"]) != "match":
                assert time.monotonic() < deadline, "the new reference was never picked up"
                time.sleep(0.05)
            stats = client.get("/v1/stats").json()
            assert stats["databases"][0]["items"] == 2
    finally:
        service.close()


def test_serve_stats_name_a_server_without_its_password(team_db, pictures):
    _add(team_db.owner, pictures["known"], "Known")
    references = open_references([team_db.scanner])
    service = ScanService(references, ServeSettings(workers=1))
    try:
        with TestClient(create_app(service)) as client:
            text = client.get("/v1/stats").text
    finally:
        service.close()
    assert team_db.passwords["provcheck_scanner"] not in text
    assert team_db.url("provcheck_scanner", password=False) in text
