"""Find the images a web page (a post, an article) declares, with the standard library's parser.

Order matters because the list is capped: the images the page itself names as its picture
(``og:image``, ``twitter:image``, ``<link rel="image_src">``) come first, then ``<img>`` elements
in document order. URLs are resolved against the page (or its ``<base href>``), only http(s) is
kept (no ``data:`` or ``javascript:``), and duplicates are dropped.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

#: Images scanned per page by default: enough for a post or a photo story, bounded for a gallery.
DEFAULT_MAX_IMAGES = 20

_META_NAMES = frozenset(
    {
        "og:image",
        "og:image:url",
        "og:image:secure_url",
        "twitter:image",
        "twitter:image:src",
    }
)


class _ImageCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.declared: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k.lower(): (v or "").strip() for k, v in attrs}
        if tag == "base" and self.base is None and attr.get("href"):
            self.base = attr["href"]
        elif tag == "meta":
            name = (attr.get("property") or attr.get("name") or "").lower()
            if name in _META_NAMES and attr.get("content"):
                self.declared.append(attr["content"])
        elif tag == "link" and "image_src" in attr.get("rel", "").lower().split():
            if attr.get("href"):
                self.declared.append(attr["href"])
        elif tag == "img":
            src = attr.get("src") or attr.get("data-src")
            if src:
                self.inline.append(src)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def page_images(html: str, page_url: str, max_images: int = DEFAULT_MAX_IMAGES) -> list[str]:
    """Absolute, deduplicated http(s) image URLs declared by ``html`` served at ``page_url``."""
    parser = _ImageCollector()
    parser.feed(html)
    parser.close()
    base = urljoin(page_url, parser.base) if parser.base else page_url
    found: list[str] = []
    seen: set[str] = set()
    for raw in (*parser.declared, *parser.inline):
        url = urldefrag(urljoin(base, raw)).url
        if urlsplit(url).scheme.lower() not in ("http", "https") or url in seen:
            continue
        seen.add(url)
        found.append(url)
        if len(found) >= max_images:
            break
    return found


def decode_page(data: bytes) -> str:
    """Page bytes as text. UTF-8 with replacement: image URLs are ASCII in practice, so a page in
    another charset only garbles prose we do not read."""
    return data.decode("utf-8", errors="replace")
