"""Fetch images and web pages over HTTP(S) with bounds: timeouts, size caps, a redirect limit,
content-type checks, and a refusal to reach private, loopback or link-local addresses.

The address check runs on every hop: redirects are followed here, one at a time, so a public URL
cannot bounce the request into the local network (a server-side request forgery through
``provcheck serve``). It runs twice: on the resolved addresses before the request (for a clear
error), and on the peer of the socket actually connected, before a byte is sent. The second check
is what stops DNS rebinding, where a host resolves to a public address for the check and to a
private one a moment later for the connection. Proxies and ``.netrc`` from the environment are not
used, so no stored credentials are sent anywhere.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from provcheck.errors import FetchError
from provcheck.media.deadline import Deadline
from provcheck.media.images import MAX_IMAGE_BYTES

if TYPE_CHECKING:
    import requests
    from requests import Response

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 20.0
#: Time one fetch may take in all (redirects, headers and body included), whatever the server
#: does: the read timeout alone lets a server that sends a byte every few seconds go on forever.
FETCH_TIMEOUT_S = 60.0
#: The same bound for a download that is not a picture (a reference pack of up to 2 GB).
DOWNLOAD_TIMEOUT_S = 3600.0
MAX_REDIRECTS = 5
#: Largest HTML page read when looking for a post's images; real articles are far smaller.
MAX_PAGE_BYTES = 5 * 1024 * 1024
USER_AGENT = "provcheck (+https://github.com/provcheck/provcheck)"
PAGE_TYPES = ("text/html", "application/xhtml+xml")
#: Largest video read from a URL: it is held in memory while sampled. Social networks cap posted
#: clips at about 512 MB; longer archive footage belongs in ``db add`` from a file.
MAX_VIDEO_BYTES = 512 * 1024 * 1024
#: Clip types taken from a URL besides ``video/*`` (some servers label MP4 this way).
VIDEO_TYPES = ("application/mp4",)
_REDIRECTS = (301, 302, 303, 307, 308)

Resolver = Callable[[str, int], list[str]]


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # after redirects
    content_type: str
    data: bytes

    @property
    def is_page(self) -> bool:
        return self.content_type in PAGE_TYPES

    @property
    def is_video(self) -> bool:
        """Labelled as a video by the server (the bytes may still say otherwise)."""
        return _is_video_type(self.content_type)


def is_url(text: str) -> bool:
    return urlsplit(text).scheme.lower() in ("http", "https")


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _address_problem(address: str) -> str | None:
    """Why ``address`` is not a public internet address, or None when it is."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for name, flag in (  # most specific first: 0.0.0.0 and ::1 also count as "private"
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return f"{name} address {ip}"
    if not ip.is_global:
        return f"non-public address {ip}"
    return None


def check_destination(url: str, *, allow_private: bool, resolver: Resolver = _resolve) -> None:
    """Refuse ``url`` unless it is http(s) with a host whose every resolved address is public
    (or ``allow_private``). Raises FetchError naming the URL, the address and the fix."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchError(url, "only http:// and https:// URLs with a host can be fetched")
    if allow_private:
        return
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise FetchError(url, "the URL has an invalid port") from None
    try:
        addresses = resolver(parts.hostname, port)
    except (OSError, UnicodeError) as exc:
        raise FetchError(url, f"cannot resolve host {parts.hostname!r} ({exc})") from None
    for address in addresses:
        problem = _address_problem(address)
        if problem:
            raise FetchError(
                url,
                f"refused: {parts.hostname} resolves to a {problem}"
                " (pass --allow-private to fetch from local networks)",
            )


def _peer_checked_session(
    allow_private: bool, track: Callable[[socket.socket], socket.socket] | None = None
) -> requests.Session:
    """A requests session whose connections refuse, once connected, a non-public peer, and
    hand every socket they open to ``track`` (the fetch's ``Deadline``).

    urllib3 resolves the host again when it connects; checking the connected socket's peer
    (rather than pinning an address) keeps TLS host checks and SNI on the real host name.
    """
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def checked(sock: socket.socket, host: str) -> socket.socket:
        if track is not None:
            track(sock)
        if allow_private:
            return sock
        try:
            problem = _peer_problem(str(sock.getpeername()[0]))
        except (OSError, ValueError) as exc:
            problem = f"unknown address ({exc})"
        if problem:
            sock.close()
            raise _RefusedPeerError(f"refused: {host} connected to a {problem}")
        return sock

    class CheckedHTTP(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return checked(super()._new_conn(), self.host)

    class CheckedHTTPS(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return checked(super()._new_conn(), self.host)

    class CheckedHTTPPool(HTTPConnectionPool):
        ConnectionCls = CheckedHTTP

    class CheckedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = CheckedHTTPS

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: object, **kwargs: object) -> None:
            super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]
            self.poolmanager.pool_classes_by_scheme = {
                "http": CheckedHTTPPool,
                "https": CheckedHTTPSPool,
            }

    session = requests.Session()
    session.trust_env = False  # no proxies or .netrc: connect where check_destination looked
    adapter = Adapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _peer_problem(address: str) -> str | None:
    """The connect-time check; a name of its own so a test can let loopback servers through."""
    return _address_problem(address)


class _RefusedPeerError(Exception):
    """Raised inside urllib3 when the connected peer is not public; not an OSError on purpose,
    so urllib3 does not retry it and it reaches ``fetch`` as itself."""


def fetch(
    url: str,
    *,
    accept: str,
    limit_for: Callable[[str], int | None],
    what: str,
    allow_private: bool = False,
    resolver: Resolver = _resolve,
    deadline_s: float = FETCH_TIMEOUT_S,
    sink: IO[bytes] | None = None,
) -> Fetched:
    """GET ``url``, following up to MAX_REDIRECTS redirects and checking each hop's address,
    all within ``deadline_s`` seconds (past it the sockets are shut and the fetch fails).

    ``limit_for(content_type)`` gives the size cap for what came back, or None when we do not
    read that type at all; ``what`` names the expected thing in errors. With a ``sink`` the body
    is written there as it arrives (the answer's ``data`` is then empty): for downloads larger
    than memory should hold.
    """
    import requests

    deadline = Deadline(deadline_s)
    session = _peer_checked_session(allow_private, deadline.track)
    current = url
    try:
        with deadline:
            for _hop in range(MAX_REDIRECTS + 1):
                check_destination(current, allow_private=allow_private, resolver=resolver)
                left = max(0.1, deadline.remaining())
                with session.get(
                    current,
                    stream=True,
                    allow_redirects=False,
                    timeout=(min(CONNECT_TIMEOUT_S, left), min(READ_TIMEOUT_S, left)),
                    headers={"User-Agent": USER_AGENT, "Accept": accept},
                ) as response:
                    location = response.headers.get("Location")
                    if response.status_code in _REDIRECTS and location:
                        current = urljoin(current, location)
                        continue
                    return _read(url, response, limit_for, what, deadline, sink)
            raise FetchError(url, f"more than {MAX_REDIRECTS} redirects")
    except _RefusedPeerError as exc:
        hint = "pass --allow-private to fetch from local networks"
        raise FetchError(url, f"{exc} ({hint})") from None
    except requests.RequestException as exc:
        if deadline.expired:
            raise FetchError(url, deadline.reason) from None
        if isinstance(exc, requests.Timeout):
            raise FetchError(url, "timed out") from None
        if isinstance(exc, requests.ConnectionError):
            raise FetchError(url, f"cannot connect ({_reason(exc)})") from None
        raise FetchError(url, f"request failed ({_reason(exc)})") from None
    finally:
        session.close()


def _read(
    url: str,
    response: Response,
    limit_for: Callable[[str], int | None],
    what: str,
    deadline: Deadline,
    sink: IO[bytes] | None = None,
) -> Fetched:
    if response.status_code >= 400:
        reason = f"HTTP {response.status_code} {response.reason or ''}".strip()
        raise FetchError(url, reason)
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    max_bytes = limit_for(content_type)
    if max_bytes is None:
        raise FetchError(url, f"not {what} (content-type {content_type or 'missing'})")
    noun = (
        "web page"
        if content_type in PAGE_TYPES
        else what
        if sink is not None
        else _media_noun(content_type)
    )
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(
            url, f"{noun} is {int(declared):,} bytes, over the {max_bytes:,}-byte limit"
        )
    chunks, total = [], 0
    for chunk in response.iter_content(chunk_size=65536):
        total += len(chunk)
        if total > max_bytes:
            raise FetchError(url, f"{noun} is over the {max_bytes:,}-byte limit")
        if sink is None:
            chunks.append(chunk)
        else:
            sink.write(chunk)
    if deadline.expired:  # a shut socket can look like the end of a body with no length
        raise FetchError(url, deadline.reason)
    return Fetched(response.url, content_type, b"".join(chunks))


def _is_video_type(content_type: str) -> bool:
    return content_type.startswith("video/") or content_type in VIDEO_TYPES


def _media_noun(content_type: str) -> str:
    return "video" if _is_video_type(content_type) else "image"


def fetch_image(
    url: str,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    allow_private: bool = False,
    deadline_s: float = FETCH_TIMEOUT_S,
) -> Fetched:
    return fetch(
        url,
        accept="image/*",
        limit_for=lambda ctype: max_bytes if ctype.startswith("image/") else None,
        what="an image",
        allow_private=allow_private,
        deadline_s=deadline_s,
    )


def fetch_image_or_page(
    url: str,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    max_page_bytes: int = MAX_PAGE_BYTES,
    max_video_bytes: int = MAX_VIDEO_BYTES,
    allow_private: bool = False,
    deadline_s: float = FETCH_TIMEOUT_S,
) -> Fetched:
    """What a scan does with a URL the user typed: an image, a video clip, or a page (a post, an
    article) whose images are scanned instead. A page is held to the smaller ``max_page_bytes``."""

    def limit_for(ctype: str) -> int | None:
        if ctype.startswith("image/"):
            return max_bytes
        if _is_video_type(ctype):
            return max_video_bytes
        return max_page_bytes if ctype in PAGE_TYPES else None

    return fetch(
        url,
        accept="image/*, video/*;q=0.9, text/html;q=0.8, application/xhtml+xml;q=0.8",
        limit_for=limit_for,
        what="an image, a video or a web page",
        allow_private=allow_private,
        deadline_s=deadline_s,
    )


def fetch_into(
    url: str,
    sink: IO[bytes],
    *,
    max_bytes: int,
    what: str,
    allow_private: bool = False,
    deadline_s: float = DOWNLOAD_TIMEOUT_S,
) -> Fetched:
    """Download a file that is not a picture (a reference pack, its signature) into ``sink``,
    under the same address checks and limits as every fetch. Any content type is taken but a web
    page: a server's HTML error page is not the file asked for."""
    return fetch(
        url,
        accept="*/*",
        limit_for=lambda ctype: None if ctype in PAGE_TYPES else max_bytes,
        what=what,
        allow_private=allow_private,
        deadline_s=deadline_s,
        sink=sink,
    )


def _reason(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 160 else text[:157] + "..."
