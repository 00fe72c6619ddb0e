"""Fetch an image over HTTP(S) with bounds: timeouts, a size cap, redirects, content type."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from provcheck.errors import FetchError
from provcheck.media import MAX_IMAGE_BYTES

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 20.0
MAX_REDIRECTS = 5
USER_AGENT = "provcheck (+https://github.com/provcheck/provcheck)"


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # after redirects
    content_type: str
    data: bytes


def is_url(text: str) -> bool:
    return urlsplit(text).scheme.lower() in ("http", "https")


def fetch_image(url: str, *, max_bytes: int = MAX_IMAGE_BYTES) -> Fetched:
    import requests

    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchError(url, "only http:// and https:// URLs with a host can be fetched")
    session = requests.Session()
    session.max_redirects = MAX_REDIRECTS
    try:
        with session.get(
            url,
            stream=True,
            timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
            headers={"User-Agent": USER_AGENT, "Accept": "image/*"},
        ) as response:
            if response.status_code >= 400:
                reason = f"HTTP {response.status_code} {response.reason or ''}".strip()
                raise FetchError(url, reason)
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if not content_type.startswith("image/"):
                raise FetchError(url, f"not an image (content-type {content_type or 'missing'})")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(
                    url, f"image is {int(declared):,} bytes, over the {max_bytes:,}-byte limit"
                )
            chunks, total = [], 0
            for chunk in response.iter_content(chunk_size=65536):
                total += len(chunk)
                if total > max_bytes:
                    raise FetchError(url, f"image is over the {max_bytes:,}-byte limit")
                chunks.append(chunk)
            return Fetched(response.url, content_type, b"".join(chunks))
    except requests.TooManyRedirects:
        raise FetchError(url, f"more than {MAX_REDIRECTS} redirects") from None
    except requests.Timeout:
        raise FetchError(url, "timed out") from None
    except requests.ConnectionError as exc:
        raise FetchError(url, f"cannot connect ({_reason(exc)})") from None
    except requests.RequestException as exc:
        raise FetchError(url, f"request failed ({_reason(exc)})") from None
    finally:
        session.close()


def _reason(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 160 else text[:157] + "..."
