"""Database server URLs among file paths: recognised, kept whole, shown without secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from provcheck.errors import UsageError
from provcheck.store.locations import as_location
from provcheck.store.server_url import ServerURL, is_server_url, redact, split_locations


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://alice:s3cr%40t@db.example:5432/refs",
            "postgresql://alice@db.example:5432/refs",
        ),
        (
            "postgres://db.example/refs?sslmode=verify-full",
            "postgres://db.example/refs?sslmode=verify-full",
        ),
        (
            "postgresql://bob@h/refs?password=s3cret&sslmode=require",
            "postgresql://bob@h/refs?sslmode=require",
        ),
        ("postgresql://?service=newsroom", "postgresql://?service=newsroom"),
        ("postgresql://:only-pw@h/refs", "postgresql://h/refs"),
    ],
)
def test_redact_keeps_everything_but_the_password(url, shown):
    assert redact(url) == shown
    location = ServerURL(url)
    assert str(location) == f"{location}" == shown
    assert "s3c" not in repr(location) and "only-pw" not in repr(location)
    assert location.secret_url == url


def test_locations_from_text():
    assert isinstance(as_location("postgresql://h/refs"), ServerURL)
    assert as_location("refs/new.sqlite") == Path("refs") / "new.sqlite"
    assert not is_server_url("postgresql:/collapsed/by/a/path/type")
    with pytest.raises(UsageError, match="port must be a number"):
        ServerURL("postgresql://h:port/refs")


def test_provcheck_db_keeps_a_urls_own_colons():
    value = "postgresql://u:p@h:5432/refs:/data/a.sqlite:postgres://h2/b?sslmode=require:c.sqlite"
    assert split_locations(value) == [
        "postgresql://u:p@h:5432/refs",
        "/data/a.sqlite",
        "postgres://h2/b?sslmode=require",
        "c.sqlite",
    ]
    assert split_locations("  ") == []
    assert split_locations("a.sqlite::b.sqlite") == ["a.sqlite", "b.sqlite"]
