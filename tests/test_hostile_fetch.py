"""URL fetches have a total deadline (issue 18, item 3): a server that sends one byte at a time,
never pausing long enough for a read timeout, cannot keep a scan waiting past it."""

from __future__ import annotations

import contextlib
import time
from http.server import BaseHTTPRequestHandler

import pytest

from tests.hostile_corpus import SlowDrip, invoke, jsonl
from tests.http_fixtures import loopback_server

pytestmark = pytest.mark.slow

DEADLINE_S = 2


class SlowHeaders(BaseHTTPRequestHandler):
    """Sends its status line and headers one byte every half second."""

    def do_GET(self) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n" + b"X-Pad: a\r\n" * 1000
        with contextlib.suppress(OSError):
            for byte in head:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.5)

    def log_message(self, *_args: object) -> None:
        return None


class DripPage(SlowDrip):
    content_type = "text/html"


@pytest.mark.parametrize("handler", [SlowDrip, SlowHeaders, DripPage])
def test_a_slow_drip_url_ends_at_the_total_deadline(ref_db, handler):
    with loopback_server(handler) as base:
        started = time.monotonic()
        result = invoke(
            "scan", f"{base}/slow", "--db", ref_db, "--allow-private", "--format", "jsonl",
            "--fetch-timeout", str(DEADLINE_S), timeout=40,
        )  # fmt: skip
        took = time.monotonic() - started
    (row,), _summary = jsonl(result)
    assert row["status"] == "error" and f"{base}/slow" in row["error"]
    assert "timed out" in row["error"] or "deadline" in row["error"]
    assert result.returncode == 2
    assert took < DEADLINE_S + 10
