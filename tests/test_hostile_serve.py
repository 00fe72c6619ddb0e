"""``provcheck serve`` under hostile clients (issue 18, items 2, 3, 4 and 13): a real server on a
loopback port. Every answer is JSON; slow, huge, nested, abandoned or bomb requests are bounded
and never take the service down; a dead worker is replaced; SIGTERM stops it within 5 s."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from tests.hostile_corpus import (
    SlowDrip,
    alive,
    animated_gif,
    children_of,
    free_port,
    kill_all,
    kill_group,
    provcheck_exe,
    wait_until,
)
from tests.http_fixtures import loopback_server

pytestmark = pytest.mark.slow

REQUEST_TIMEOUT_S, BODY_TIMEOUT_S, MAX_CONNECTIONS = 5, 2, 8


@dataclass
class Server:
    proc: subprocess.Popen
    base: str
    stderr: list[bytes]

    def workers(self) -> set[int]:
        """The server's child processes: its hashing workers (and multiprocessing's helper)."""
        return children_of(self.proc.pid)

    def hashing_workers(self) -> set[int]:
        return {pid for pid in self.workers() if b"resource_tracker" not in _cmdline(pid)}

    def upload(self, data: bytes, name: str = "x.jpg", timeout: float = 20) -> requests.Response:
        return requests.post(f"{self.base}/v1/scan", files={"file": (name, data)}, timeout=timeout)

    def scan_url(self, url: str, timeout: float = 30) -> requests.Response:
        return requests.post(f"{self.base}/v1/scan", json={"url": url}, timeout=timeout)


@contextlib.contextmanager
def serving(db, *extra: str, workers: int = 1) -> Iterator[Server]:
    port = free_port()
    command = [
        provcheck_exe(), "serve", "--db", str(db), "--port", str(port), "--workers", str(workers),
        "--allow-private", "--request-timeout", str(REQUEST_TIMEOUT_S),
        "--body-timeout", str(BODY_TIMEOUT_S), *extra,
    ]  # fmt: skip
    with subprocess.Popen(command, stderr=subprocess.PIPE, start_new_session=True) as proc:
        chunks: list[bytes] = []
        reader = threading.Thread(target=lambda: chunks.extend(iter(proc.stderr.readline, b"")))
        reader.start()
        server = Server(proc, f"http://127.0.0.1:{port}", chunks)
        started = set()
        try:
            assert wait_until(lambda: _healthy(server) or proc.poll() is not None, 60)
            assert proc.poll() is None, b"".join(chunks).decode()[-2000:]
            started = server.workers()
            yield server
        finally:
            workers = started | server.workers()
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)
            kill_group(proc.pid)
            kill_all(sorted(workers))
            reader.join(timeout=10)


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:  # noqa: PTH123
            return handle.read()
    except OSError:
        return b""


def _healthy(server: Server) -> bool:
    try:
        return requests.get(f"{server.base}/v1/health", timeout=1).ok
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def server(ref_db) -> Iterator[Server]:
    # One worker: 4 URL scans at a time; 8 connections: URL scans alone cannot fill them.
    with serving(ref_db, "--max-connections", str(MAX_CONNECTIONS)) as running:
        yield running


def _json(response: requests.Response) -> dict:
    assert response.headers.get("content-type", "").startswith("application/json"), (
        response.status_code,
        response.text[:300],
    )
    return response.json()


def test_a_gif_bomb_by_upload_or_url_is_refused_fast(server, pictures):
    bomb = animated_gif(8000, 4000, 51)

    class Gif(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "image/gif")
            self.send_header("Content-Length", str(len(bomb)))
            self.end_headers()
            self.wfile.write(bomb)

        def log_message(self, *_args):
            return None

    started = time.monotonic()
    doc = _json(server.upload(bomb, "bomb.gif"))
    assert doc["results"][0]["status"] in ("error", "clean", "insufficient")
    with loopback_server(Gif) as base:
        doc = _json(server.scan_url(f"{base}/bomb.gif"))
    (result,) = doc["results"]
    assert result["status"] == "error" and "bomb.gif" in result["error"]
    assert time.monotonic() - started < 15
    doc = _json(server.upload(pictures["known"].read_bytes()))
    assert doc["results"][0]["status"] == "match"


def test_slow_drip_urls_do_not_starve_uploads(server, pictures):
    known = pictures["known"].read_bytes()
    with loopback_server(SlowDrip) as base, ThreadPoolExecutor(46) as pool:
        slow = [pool.submit(server.scan_url, f"{base}/drip{n}.jpg") for n in range(45)]
        time.sleep(1.0)
        started = time.monotonic()
        doc = _json(server.upload(known, timeout=15))
        assert doc["results"][0]["status"] == "match"
        assert time.monotonic() - started < 10
        for future in slow:
            response = future.result(timeout=REQUEST_TIMEOUT_S + 20)
            body = _json(response)
            if response.status_code == 200:
                assert body["results"][0]["status"] == "error"
            else:
                assert response.status_code in (503, 504) and body["error"]
    assert _healthy(server)


def test_nested_json_is_a_json_400(server):
    response = requests.post(
        f"{server.base}/v1/scan",
        data=b"[" * 200_000 + b"]" * 200_000,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert _json(response)["error"]


def _held_upload(server: Server) -> socket.socket:
    """A connection that declares a body and sends a few bytes of it, then nothing."""
    host, port = server.base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(
        b"POST /v1/scan HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        b"Content-Length: 100000\r\n\r\n--b\r\n"
    )
    return sock


def _read_response(sock: socket.socket) -> tuple[int, dict]:
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body[body.index(b"{") :])


def test_a_body_that_never_arrives_times_out_with_json(server):
    with contextlib.closing(_held_upload(server)) as sock:
        started = time.monotonic()
        status, body = _read_response(sock)
    assert status == 408 and body["error"]
    assert time.monotonic() - started < BODY_TIMEOUT_S + 5


def test_the_connection_cap_answers_503_json_and_health_says_busy(server, pictures):
    held = [_held_upload(server) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.3)
        response = server.upload(pictures["known"].read_bytes(), timeout=10)
        assert response.status_code == 503 and _json(response)["error"]
        health = requests.get(f"{server.base}/v1/health", timeout=5)
        assert health.status_code == 503 and _json(health)["status"] != "ok"
    finally:
        for sock in held:
            sock.close()
    assert wait_until(lambda: _healthy(server), 10)


def test_client_disconnects_are_not_logged_as_crashes(server, pictures):
    for _ in range(3):
        _held_upload(server).close()
    doc = _json(server.upload(pictures["known"].read_bytes()))
    assert doc["results"][0]["status"] == "match"
    time.sleep(0.5)
    log = b"".join(server.stderr).decode()
    assert "Traceback" not in log, log[-3000:]


def test_a_dead_worker_is_replaced(server, pictures):
    known = pictures["known"].read_bytes()
    assert _json(server.upload(known))["results"][0]["status"] == "match"
    (worker,) = server.hashing_workers() or {None}
    assert worker is not None, "no hashing worker found"
    os.kill(worker, signal.SIGKILL)
    assert wait_until(lambda: not alive(worker), 5)
    answers = []

    def recovered() -> bool:
        response = server.upload(known)
        answers.append(_json(response))  # every answer is JSON, even during the recovery
        return response.status_code == 200 and answers[-1]["results"][0]["status"] == "match"

    assert wait_until(recovered, 20, step=0.5), answers[-3:]
    assert _healthy(server)


def test_sigterm_stops_the_server_within_5_s_even_with_slow_requests(ref_db, pictures):
    with serving(ref_db) as running, loopback_server(SlowDrip) as base:
        pool = ThreadPoolExecutor(4)
        for n in range(3):
            pool.submit(running.scan_url, f"{base}/drip{n}.jpg", 60)
        time.sleep(1.0)
        workers = running.workers()
        started = time.monotonic()
        running.proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            running.proc.wait(timeout=20)
        stopped_in = time.monotonic() - started
        pool.shutdown(wait=False, cancel_futures=True)
        assert stopped_in < 5, f"SIGTERM took {stopped_in:.1f} s"
        assert wait_until(lambda: not any(alive(p) for p in workers), 5)
