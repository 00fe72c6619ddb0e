"""Opening a SQLite database file: refuse what is not ours (untouched), upgrade old schemas, and the
default locations (the user's database, the bundled pack).

Opening never writes to a file until it is known to be a provcheck database (or a new, empty one),
so a wrong ``--db`` cannot damage anything.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from provcheck.errors import DatabaseError
from provcheck.store.sqlite.guard import database_error, lock_wait_s
from provcheck.store.sqlite.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION
from provcheck.store.sqlite.store import SqliteStore


def _readonly_uri(path: Path) -> str:
    """The URI that opens ``path`` without writing a byte, even in a folder that cannot be
    written: a WAL database needs its ``-shm`` file there, which a read-only folder cannot give.
    With no ``-shm`` and no pending ``-wal`` no writer can exist, so the file is read as
    immutable; a pending ``-wal`` there cannot be read at all, and saying so beats a wrong
    "not a provcheck database"."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    if os.access(path.parent, os.W_OK | os.X_OK):
        return uri
    wal, shm = (path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))
    pending = wal.exists() and wal.stat().st_size > 0
    if pending and not shm.exists():
        raise DatabaseError(
            f"{path}: has unfinished writes in {wal.name} and its folder is read-only, so they"
            " cannot be read; open it once where its folder can be written (or copy both files)"
        )
    return uri if shm.exists() else uri + "&immutable=1"


def _text(data: bytes) -> str:
    """A stored text as a string even if it is not UTF-8 (a database made by hand)."""
    return data.decode("utf-8", "replace")


def _probe(path: Path) -> tuple[int, int, int]:
    """(application_id, user_version, table count) read without writing a byte."""
    uri = _readonly_uri(path)
    try:
        conn = sqlite3.connect(uri, uri=True)
        try:
            app = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorname", "SQLITE_NOTADB") != "SQLITE_NOTADB":
            raise database_error(path, exc) from None  # ours, perhaps, but locked or unreadable
        raise DatabaseError(
            f"{path}: not a provcheck database ({exc}); refusing to use or change it"
        ) from None
    return int(app), int(version), int(tables)


def _check_ours(path: Path) -> bool:
    """Refuse a file that is not a provcheck database (or is too new); True if it is empty."""
    try:
        app, version, tables = _probe(path)
    except PermissionError:
        raise DatabaseError(f"{path}: permission denied") from None
    if app != APPLICATION_ID and not (app == 0 and tables == 0):
        raise DatabaseError(
            f"{path}: not a provcheck database (a SQLite file of another program);"
            " refusing to use or change it"
        )
    if version > SCHEMA_VERSION:
        raise DatabaseError(
            f"{path}: made by a newer provcheck (schema {version}, this one reads up to"
            f" {SCHEMA_VERSION}); upgrade provcheck"
        )
    return tables == 0


def open_sqlite(path: Path, *, create: bool = False, readonly: bool = False) -> SqliteStore:
    """Open the database at ``path``.

    ``create`` makes a new database where none exists (and initialises an empty file); otherwise a
    missing file is an error. ``readonly`` opens without ever writing (the bundled pack, shared
    read-only copies). A file that is not a provcheck database is refused untouched.
    """
    path = Path(path).expanduser()
    exists = path.exists()
    if exists and path.is_dir():
        raise DatabaseError(f"{path}: is a folder, not a database file")
    if not exists and not create:
        raise DatabaseError(f"{path}: no such database (create one with 'provcheck db add')")
    fresh = not exists or path.stat().st_size == 0 or _check_ours(path)
    if fresh and readonly:
        raise DatabaseError(f"{path}: empty database, nothing to read")
    if not exists:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(f"{path}: cannot create the database folder ({exc})") from None
    wait = lock_wait_s()
    try:
        if readonly:
            conn = sqlite3.connect(
                _readonly_uri(path), uri=True, isolation_level=None, check_same_thread=False
            )
        else:
            conn = sqlite3.connect(
                path, isolation_level=None, timeout=wait, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.text_factory = _text
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
    except sqlite3.Error as exc:
        raise database_error(path, exc) from None
    store = SqliteStore(conn, path, writable=not readonly)
    if not readonly:
        _migrate(conn, path)
    return store


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version >= SCHEMA_VERSION:
        return
    try:
        conn.execute("BEGIN IMMEDIATE")
        # Read again under the write lock: another process opening the same new file at the same
        # moment may have created the schema since (two writers starting at once did collide).
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        for step in MIGRATIONS[version:]:
            for statement in _statements(step):
                conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise DatabaseError(f"{path}: could not upgrade the schema ({exc})") from None


def _statements(script: str) -> Iterator[str]:
    """Split a migration into statements (sqlite3.executescript would commit on its own)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            buffer = ""
            if statement:
                yield statement
    if buffer.strip():
        raise DatabaseError("internal error: incomplete statement in a migration")
