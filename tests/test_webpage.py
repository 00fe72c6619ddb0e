"""Scanning a post or article URL: its declared images, fetched within bounds, never inside the
local network unless --allow-private. All traffic goes to 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from provcheck.cli import cli
from provcheck.errors import FetchError
from provcheck.media.fetch import MAX_REDIRECTS, check_destination, fetch_image, fetch_image_or_page
from provcheck.media.webpage import page_images
from tests.http_fixtures import serve_routes

PAGE = """<!doctype html><html><head>
<meta property="og:image" content="/img/known.jpg">
<meta name="twitter:image" content="//127.0.0.1:1/card.png#frag">
<link rel="image_src" href="img/known.jpg">
<title>Strike footage</title></head>
<body><p>Text</p>
<img src="data:image/png;base64,AAAA"><img src="unknown.jpg"><IMG SRC="/img/known.jpg"/>
<img data-src="lazy.webp"><img src="javascript:alert(1)"><img>
</body></html>"""


def test_page_images_order_resolution_dedup_and_limit():
    url = "https://news.example/posts/1234"
    assert page_images(PAGE, url) == [
        "https://news.example/img/known.jpg",
        "https://127.0.0.1:1/card.png",
        "https://news.example/posts/img/known.jpg",
        "https://news.example/posts/unknown.jpg",
        "https://news.example/posts/lazy.webp",
    ]
    assert page_images(PAGE, url, max_images=2) == [
        "https://news.example/img/known.jpg",
        "https://127.0.0.1:1/card.png",
    ]


def test_page_images_honours_base_href_and_broken_html():
    html = '<base href="https://static.example/a/"><img src="x.jpg"><img src=y.png <p'
    # A tag cut off by the end of the document is not guessed at; the rest is still found.
    assert page_images(html, "https://news.example/p") == ["https://static.example/a/x.jpg"]
    assert page_images("", "https://news.example/p") == []


def _resolver(table):
    return lambda host, _port: table[host]


@pytest.mark.parametrize(
    ("addresses", "kind"),
    [
        (["127.0.0.1"], "loopback"),
        (["::1"], "loopback"),
        (["10.1.2.3"], "private"),
        (["192.168.0.10"], "private"),
        (["169.254.169.254"], "link-local"),
        (["fe80::1"], "link-local"),
        (["::ffff:127.0.0.1"], "loopback"),
        (["93.184.216.34", "172.16.0.5"], "private"),  # every resolved address is checked
        (["0.0.0.0"], "unspecified"),
        (["100.64.0.1"], "non-public"),
    ],
)
def test_check_destination_refuses_non_public(addresses, kind):
    with pytest.raises(FetchError) as info:
        check_destination(
            "http://host.test/x.jpg",
            allow_private=False,
            resolver=_resolver({"host.test": addresses}),
        )
    assert f"resolves to a {kind} address" in str(info.value)
    assert "--allow-private" in str(info.value)


def test_check_destination_allows_public_and_private_on_request():
    public = _resolver({"host.test": ["93.184.216.34", "2606:2800:220:1::1"]})
    check_destination("https://host.test/x.jpg", allow_private=False, resolver=public)
    check_destination("http://127.0.0.1/x", allow_private=True)
    with pytest.raises(FetchError, match="only http:// and https://"):
        check_destination("file:///etc/passwd", allow_private=True)


@pytest.fixture(scope="module")
def site(pictures):
    known = pictures["known"].read_bytes()
    unknown = pictures["unknown"].read_bytes()
    jpeg = {"Content-Type": "image/jpeg"}
    html = {"Content-Type": "text/html; charset=utf-8"}
    routes = {
        "/posts/1": (200, html, PAGE.encode()),
        "/img/known.jpg": (200, jpeg, known),
        "/posts/unknown.jpg": (200, jpeg, unknown),
        "/posts/lazy.webp": (200, {"Content-Type": "text/plain"}, b"not an image"),
        "/posts/img/known.jpg": (302, {"Location": "/img/known.jpg"}, b""),
        "/empty": (200, html, b"<html><body>No pictures</body></html>"),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/notes.txt": (200, {"Content-Type": "text/plain"}, b"hello"),
        "/huge.jpg": (200, {**jpeg, "Content-Length": "999999999"}, b""),
    }
    with serve_routes(routes) as base:
        yield base


def _scan(*args):
    return CliRunner().invoke(cli, ["scan", "--no-config", *args])


def test_scan_page_reports_each_image_with_the_page(site, ref_db):
    page = f"{site}/posts/1"
    result = _scan(page, "--db", str(ref_db), "--allow-private", "--format", "json", "-j", "1")
    doc = json.loads(result.output)
    rows = [(r["input"], r["status"], r["page"]) for r in doc["results"]]
    assert rows == [
        (f"{site}/img/known.jpg", "match", page),
        ("http://127.0.0.1:1/card.png", "error", page),  # nothing listens on port 1
        (f"{site}/posts/img/known.jpg", "match", page),  # after a redirect
        (f"{site}/posts/unknown.jpg", "clean", page),
        (f"{site}/posts/lazy.webp", "error", page),
    ]
    assert "cannot connect" in doc["results"][1]["error"]
    assert "not an image (content-type text/plain)" in doc["results"][4]["error"]
    assert doc["results"][0]["matches"][0]["label"] == "Test Game"
    assert result.exit_code == 2  # errors present, fail-on any


def test_scan_page_with_process_pool_keeps_order(site, ref_db, pictures):
    page = f"{site}/posts/1"
    args = [str(pictures["known"]), page, str(pictures["unknown"]), f"{site}/img/known.jpg"]
    result = _scan(*args, "--db", str(ref_db), "--allow-private", "--format", "json", "-j", "2")
    inputs = [r["input"] for r in json.loads(result.output)["results"]]
    assert inputs[0] == str(pictures["known"])
    assert inputs[1:6] == [
        f"{site}/img/known.jpg",
        "http://127.0.0.1:1/card.png",
        f"{site}/posts/img/known.jpg",
        f"{site}/posts/unknown.jpg",
        f"{site}/posts/lazy.webp",
    ]
    assert inputs[6:] == [str(pictures["unknown"]), f"{site}/img/known.jpg"]


def test_loopback_refused_without_flag(site, ref_db):
    result = _scan(f"{site}/posts/1", "--db", str(ref_db))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[0] == (
        f"ERROR  {site}/posts/1: refused: 127.0.0.1 resolves to a loopback address 127.0.0.1"
        " (pass --allow-private to fetch from local networks)"
    )
    assert lines[1].startswith("1 input: 0 match, 0 clean, 0 insufficient, 1 error")


def test_page_without_images_is_an_error(site, ref_db):
    result = _scan(f"{site}/empty", "--db", str(ref_db), "--allow-private")
    assert "web page declares no images" in result.output
    assert result.exit_code == 2


def test_fetch_bounds(site):
    with pytest.raises(FetchError, match=f"more than {MAX_REDIRECTS} redirects"):
        fetch_image(f"{site}/loop", allow_private=True)
    with pytest.raises(FetchError, match="not an image, a video or a web page"):
        fetch_image_or_page(f"{site}/notes.txt", allow_private=True)
    with pytest.raises(FetchError, match="999,999,999 bytes, over the"):
        fetch_image(f"{site}/huge.jpg", allow_private=True)
    with pytest.raises(FetchError, match=r"web page is 4[0-9]+ bytes, over the 100-byte limit"):
        fetch_image_or_page(f"{site}/posts/1", allow_private=True, max_page_bytes=100)
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_image(f"{site}/missing.jpg", allow_private=True)


def test_every_redirect_hop_is_checked(site, monkeypatch):
    """The first hop passes the check (the resolver calls 127.0.0.1 public), the redirect goes to
    "localhost", which resolves to loopback: refused before any request is sent there."""
    import provcheck.media.fetch

    # The test server is on loopback: let the connect-time peer check through for this test.
    monkeypatch.setattr(provcheck.media.fetch, "_peer_problem", lambda _address: None)
    port = site.rsplit(":", 1)[1]
    routes = {"/hop": (302, {"Location": f"http://localhost:{port}/img/known.jpg"}, b"")}
    resolver = _resolver({"127.0.0.1": ["93.184.216.34"], "localhost": ["127.0.0.1"]})
    from provcheck.media.fetch import fetch

    with serve_routes(routes) as base, pytest.raises(FetchError) as info:
        fetch(
            f"{base}/hop",
            accept="image/*",
            limit_for=lambda _ctype: 1000,
            what="an image",
            resolver=resolver,
        )
    assert "refused: localhost resolves to a loopback address 127.0.0.1" in str(info.value)


def test_dns_rebinding_is_refused_at_connect_time(site):
    """The resolver says public when checked, but the connection lands on loopback (what a
    rebinding DNS server does between the check and the connect): refused before the request."""
    from provcheck.media.fetch import fetch

    port = site.rsplit(":", 1)[1]
    rebinding = _resolver({"localhost": ["93.184.216.34"]})
    with pytest.raises(FetchError) as info:
        fetch(
            f"http://localhost:{port}/img/known.jpg",
            accept="image/*",
            limit_for=lambda _ctype: 10_000_000,
            what="an image",
            resolver=rebinding,
        )
    message = str(info.value)
    assert "refused: localhost connected to a loopback address" in message
    assert "--allow-private" in message
    # The same fetch with --allow-private reaches the server: the refusal was the peer check.
    fetched = fetch(
        f"http://localhost:{port}/img/known.jpg",
        accept="image/*",
        limit_for=lambda _ctype: 10_000_000,
        what="an image",
        resolver=rebinding,
        allow_private=True,
    )
    assert fetched.data
