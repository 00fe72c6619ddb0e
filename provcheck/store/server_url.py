"""Database server locations (``postgresql://...``): recognising one among file paths, and the
form of it that may be shown.

A URL may carry a password (``postgresql://user:secret@host/db``) or name a libpq service file
entry; everything provcheck prints, logs or writes into a report names the database by
``ServerURL.display`` (the URL without its secrets), and ``str()`` of a ``ServerURL`` is that
display form too, so an f-string can never leak the password. Only the connection code reads
``ServerURL.secret_url``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit

from provcheck.errors import UsageError

#: URL schemes of a PostgreSQL server (libpq accepts both).
SCHEMES = ("postgresql", "postgres")
#: Query parameters whose values are secrets: never shown.
_SECRET_PARAMS = frozenset({"password", "sslpassword"})
#: One entry of a list of locations that starts a URL: the scheme and ``//``. The URL ends at the
#: first ``:`` after its host part (the list separator), see ``split_locations``.
_URL_START = re.compile(r"(?i)^(postgresql|postgres)://")


def is_server_url(text: str) -> bool:
    """Whether ``text`` names a database server rather than a file."""
    return bool(_URL_START.match(text.strip()))


@dataclass(frozen=True, slots=True)
class ServerURL:
    """A PostgreSQL connection URL, kept whole, shown without its secrets."""

    secret_url: str = field(repr=False)

    def __post_init__(self) -> None:
        if not is_server_url(self.secret_url):
            raise UsageError(f"{self.display}: not a postgresql:// URL")
        try:
            urlsplit(self.secret_url).port  # noqa: B018  (validates the port)
        except ValueError:
            raise UsageError(f"{self.display}: the port must be a number") from None

    @property
    def display(self) -> str:
        """The URL without the password (in the user part or as a query parameter)."""
        return redact(self.secret_url)

    @property
    def database(self) -> str:
        """The database name (empty when it comes from a service file or the environment)."""
        return urlsplit(self.secret_url).path.lstrip("/")

    def __str__(self) -> str:
        return self.display

    def __repr__(self) -> str:
        return f"ServerURL({self.display!r})"


def redact(url: str) -> str:
    """``url`` with any password removed (user part and ``password=`` parameters)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "<unreadable database URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hosts = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}@{hosts}" if user else hosts
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k not in _SECRET_PARAMS
        ]
    )
    # Not urlunsplit: it drops the '//' of a URL without a host (postgresql://?service=x).
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def split_locations(value: str) -> list[str]:
    """Split a ``PROVCHECK_DB`` value into locations at ``os.pathsep``, keeping a URL whole.

    A URL's own colons (scheme, password, port) are not separators: a URL runs up to the first
    separator after its path begins (``postgresql://u:p@h:5432/db:/refs/a.sqlite`` is two
    entries).
    """
    out: list[str] = []
    rest = value.strip()
    while rest:
        match = _URL_START.match(rest)
        if match and os.pathsep == ":":
            after = match.end()
            slash = rest.find("/", after)
            query = rest.find("?", after)
            ends = [i for i in (slash, query) if i != -1]
            host_end = min(ends) if ends else len(rest)
            sep = rest.find(":", host_end)
            entry, rest = (rest, "") if sep == -1 else (rest[:sep], rest[sep + 1 :])
        else:
            entry, _, rest = rest.partition(os.pathsep)
        if entry.strip():
            out.append(entry.strip())
    return out
