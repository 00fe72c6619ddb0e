"""Where reference databases live and how one is opened: the user's own database, the bundled
pack, and the one entry point that picks the backend for a location."""

from __future__ import annotations

from pathlib import Path

from provcheck.errors import DatabaseError
from provcheck.store.interface import Store
from provcheck.store.sqlite.opening import open_sqlite

#: Location prefixes of database servers (a path given as ``--db`` arrives with its ``//``
#: collapsed to ``/`` by the path type).
_SERVER_SCHEMES = ("postgresql:", "postgres:")


def open_store(path: Path, *, create: bool = False, readonly: bool = False) -> Store:
    """Open the reference database at ``path``.

    ``create`` makes a new database where none exists; otherwise a missing one is an error.
    ``readonly`` opens without ever writing (the bundled pack, shared read-only copies). A file
    that is not a provcheck database is refused untouched.
    """
    if str(path).lower().startswith(_SERVER_SCHEMES):
        raise DatabaseError(
            f"{path}: database server URLs are not supported by this provcheck;"
            " give the path of a SQLite database file"
        )
    return open_sqlite(path, create=create, readonly=readonly)


def default_db_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("provcheck", appauthor=False)) / "references.sqlite"


def bundled_pack_path() -> Path:
    """The reference pack shipped with provcheck (built by reference_db/recipe/build_pack.py)."""
    from importlib.resources import files

    return Path(str(files("provcheck.bundled").joinpath("pack.sqlite")))
