"""Where reference databases live and how one is opened: the user's own database, the bundled
pack, and the one entry point that picks the backend for a location."""

from __future__ import annotations

from pathlib import Path

from provcheck.errors import DatabaseError
from provcheck.store.interface import Store
from provcheck.store.server_url import ServerURL, is_server_url
from provcheck.store.sqlite.opening import open_sqlite

#: What ``--db`` names: a SQLite file, or a database server by its URL.
Location = Path | ServerURL


def as_location(value: str | Path | ServerURL) -> Location:
    """A location from the text a user gave (a URL stays whole; anything else is a path)."""
    if isinstance(value, ServerURL | Path):
        return value
    return ServerURL(value.strip()) if is_server_url(value) else Path(value)


#: Location prefixes of database servers (a path given as ``--db`` arrives with its ``//``
#: collapsed to ``/`` by the path type).
_SERVER_SCHEMES = ("postgresql:", "postgres:")


def open_store(path: Location | str, *, create: bool = False, readonly: bool = False) -> Store:
    """Open the reference database at ``path`` (a SQLite file, or a ``postgresql://`` URL).

    ``create`` makes a new database where none exists; otherwise a missing one is an error.
    ``readonly`` opens without ever writing (the bundled pack, shared read-only copies). A file
    that is not a provcheck database is refused untouched.
    """
    location = as_location(path)
    if isinstance(location, ServerURL):
        from provcheck.store.postgres.opening import open_postgres

        return open_postgres(location, create=create, readonly=readonly)
    if str(location).lower().startswith(_SERVER_SCHEMES):
        raise DatabaseError(
            f"{location}: a database URL given as a file path (its '//' lost on the way);"
            " pass it as text"
        )
    return open_sqlite(location, create=create, readonly=readonly)


def default_db_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("provcheck", appauthor=False)) / "references.sqlite"


def bundled_pack_path() -> Path:
    """The reference pack shipped with provcheck (built by reference_db/recipe/build_pack.py)."""
    from importlib.resources import files

    return Path(str(files("provcheck.bundled").joinpath("pack.sqlite")))
