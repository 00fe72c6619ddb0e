"""provcheck serve: in-process through Starlette's TestClient, and a real server subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from starlette.testclient import TestClient

from provcheck.server import ScanService, ServeSettings, create_app
from provcheck.services.databases import open_references
from tests.conftest import encode
from tests.conftest import noise_picture as make_picture
from tests.http_fixtures import serve_routes

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def service(ref_db):
    references = open_references([ref_db])
    svc = ScanService(
        references,
        ServeSettings(max_bytes=200_000, token=TOKEN, workers=1, allow_private=True),
    )
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def client(service):
    with TestClient(create_app(service)) as c:
        yield c


def test_health_is_open_and_the_rest_needs_the_token(client):
    health = client.get("/v1/health").json()
    assert (health["status"], health["provcheck"], health["workers"]) == ("ok", "0.1.0", 1)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = client.get("/v1/stats", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "bearer token" in response.json()["error"]
        assert client.post("/v1/scan", headers=headers, files={"file": b"x"}).status_code == 401
    assert client.get("/v1/stats", headers=AUTH).status_code == 200


def test_upload_matches_like_the_cli(client, pictures):
    known = pictures["known"].read_bytes()
    response = client.post(
        "/v1/scan",
        headers=AUTH,
        files={"file": ("known.jpg", known, "image/jpeg")},
        data={"claimed_date": "2024-03-01"},
    )
    assert response.status_code == 200
    doc = response.json()
    assert set(doc) == {"results", "summary"}
    (result,) = doc["results"]
    assert (result["input"], result["status"], result["page"]) == ("known.jpg", "match", None)
    match = result["matches"][0]
    assert match["label"] == "Test Game"
    assert match["first_seen_before_claim"] is True
    assert doc["summary"]["match"] == 1
    assert doc["summary"]["exit_code"] == 1
    assert doc["summary"]["claimed_date"] == "2024-03-01"

    unknown = pictures["unknown"].read_bytes()
    doc = client.post("/v1/scan", headers=AUTH, files={"file": ("u.jpg", unknown)}).json()
    assert doc["results"][0]["status"] == "clean"


def test_bad_uploads(client):
    doc = client.post("/v1/scan", headers=AUTH, files={"file": ("x.jpg", b"\xff\xd8 junk")}).json()
    assert doc["results"][0]["status"] == "error"
    assert doc["results"][0]["error"].startswith("x.jpg: ")
    response = client.post("/v1/scan", headers=AUTH, files={"other": ("x.jpg", b"1")})
    assert response.status_code == 400
    assert response.json() == {"error": 'no file in the form field "file"'}
    response = client.post(
        "/v1/scan", headers={**AUTH, "Content-Type": "text/plain"}, content=b"raw"
    )
    assert response.status_code == 400


def test_bad_json_and_dates(client):
    post = lambda body: client.post(  # noqa: E731
        "/v1/scan", headers={**AUTH, "Content-Type": "application/json"}, content=body
    )
    assert post(b"{not json").json() == {"error": "the body is not valid JSON"}
    assert "unknown field 'urls'" in post(json.dumps({"url": "x", "urls": []})).json()["error"]
    assert post(json.dumps({"url": 3})).status_code == 400
    response = post(json.dumps({"url": "http://127.0.0.1:1/x.jpg", "claimed_date": "soon"}))
    assert response.status_code == 400
    assert "claimed_date must be a date" in response.json()["error"]


def test_request_size_limit(client):
    big = b"\xff" * 300_000
    response = client.post("/v1/scan", headers=AUTH, files={"file": ("big.jpg", big)})
    assert response.status_code == 413
    assert response.json() == {"error": "request body is over the 200,000-byte limit"}

    def chunked():  # no Content-Length: the limit is enforced while reading
        for _ in range(30):
            yield b"\x00" * 10_000

    response = client.post(
        "/v1/scan",
        headers={**AUTH, "Content-Type": "application/json"},
        content=chunked(),
    )
    assert response.status_code == 413


def test_url_scan_of_a_page(client, pictures):
    page_html = b'<meta property="og:image" content="/a.jpg"><img src="/b.jpg"><img src="/a.jpg">'
    routes = {
        "/post": (200, {"Content-Type": "text/html"}, page_html),
        "/a.jpg": (200, {"Content-Type": "image/jpeg"}, pictures["known"].read_bytes()),
        "/b.jpg": (200, {"Content-Type": "image/jpeg"}, pictures["unknown"].read_bytes()),
    }
    with serve_routes(routes) as base:
        response = client.post("/v1/scan", headers=AUTH, json={"url": f"{base}/post"})
    doc = response.json()
    rows = [(r["input"], r["status"], r["page"]) for r in doc["results"]]
    assert rows == [
        (f"{base}/a.jpg", "match", f"{base}/post"),
        (f"{base}/b.jpg", "clean", f"{base}/post"),
    ]
    assert doc["summary"]["inputs"] == 2


def test_stats_count_requests(client):
    stats = client.get("/v1/stats", headers=AUTH).json()
    assert stats["databases"][0]["items"] == 1
    assert stats["workers"] == 1
    assert set(stats["results"]) == {"match", "clean", "insufficient", "error"}
    assert stats["requests"].get("unauthorized", 0) >= 0


def test_unknown_route_is_json(client):
    response = client.get("/v1/nothing", headers=AUTH)
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_real_server_concurrent_uploads(ref_db, pictures, tmp_path):
    port = _free_port()
    env = {**os.environ, "PROVCHECK_TOKEN": TOKEN}
    command = [sys.executable, "-m", "provcheck", "serve", "--db", str(ref_db)]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--workers", "2"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/v1/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        images = [pictures["known"].read_bytes(), pictures["unknown"].read_bytes()]
        images.append(encode(make_picture(3), "PNG"))

        def upload(i: int) -> tuple[int, str]:
            data = images[i % 3]
            r = requests.post(
                f"{base}/v1/scan", headers=AUTH, files={"file": (f"{i}.img", data)}, timeout=60
            )
            return i, r.json()["results"][0]["status"]

        with ThreadPoolExecutor(8) as pool:
            got = dict(pool.map(upload, range(24)))
        assert got == {i: ("match", "clean", "clean")[i % 3] for i in range(24)}

        refused = requests.post(
            f"{base}/v1/scan", headers=AUTH, json={"url": f"{base}/v1/health"}, timeout=30
        ).json()["results"][0]
        assert refused["status"] == "error"
        assert "resolves to a loopback address 127.0.0.1" in refused["error"]
        stats = requests.get(f"{base}/v1/stats", headers=AUTH, timeout=5).json()
        assert stats["requests"]["scanned"] == 25
        assert stats["results"] == {"match": 8, "clean": 16, "insufficient": 0, "error": 1}
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert "provcheck serve: http://127.0.0.1" in err
