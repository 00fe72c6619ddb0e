"""The one error path from SQLite to the user: every failure a database file can cause (corrupt,
locked by another process, read-only, full disk, vanished) becomes a ``DatabaseError`` naming
the file and what to do, which the command line reports as one line and exit status 2.

Every statement the backend runs goes through ``GuardedConnection``, so no SQLite exception can
escape as an "internal error" from a query someone forgot to wrap. Errors of our own making
(a statement that does not compile, a value SQLite cannot bind) are not translated: they are bugs
and stay visible as such.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from provcheck.errors import DatabaseError

#: Seconds a write waits for another process's write lock before giving up (PROVCHECK_LOCK_WAIT).
DEFAULT_LOCK_WAIT_S = 30.0


def lock_wait_s() -> float:
    """How long to wait for another process's lock: ``PROVCHECK_LOCK_WAIT`` seconds, else 30."""
    try:
        value = float(os.environ.get("PROVCHECK_LOCK_WAIT", DEFAULT_LOCK_WAIT_S))
    except ValueError:
        return DEFAULT_LOCK_WAIT_S
    return value if 0 <= value <= 24 * 3600 else DEFAULT_LOCK_WAIT_S


def database_error(path: Path, exc: sqlite3.Error) -> DatabaseError:
    """``exc`` as one line that names the database and says what to do about it."""
    code = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        problem = (
            f"locked by another process (waited {lock_wait_s():g} s; {text}); try again when it"
            " is done"
        )
    elif code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text:
        problem = f"the database file is corrupt ({text}); restore it from a backup"
    elif code.startswith("SQLITE_READONLY") or "readonly" in text:
        problem = f"read-only ({text}); check the permissions of the file and of its folder"
    elif code.startswith("SQLITE_FULL"):
        problem = f"cannot write: the disk is full ({text})"
    elif code.startswith("SQLITE_IOERR"):
        problem = f"cannot read or write the file ({text})"
    elif code.startswith("SQLITE_CANTOPEN"):
        problem = f"cannot open the file ({text})"
    else:
        problem = f"database error ({text})"
    return DatabaseError(f"{path}: {problem}")


def _translated(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` is the file's doing (translated) rather than a bug of ours (kept)."""
    return not isinstance(exc, sqlite3.ProgrammingError | sqlite3.InterfaceError)


class GuardedCursor:
    """A cursor whose rows, as they are fetched, raise ``DatabaseError`` instead of SQLite's."""

    def __init__(self, cursor: sqlite3.Cursor, path: Path) -> None:
        self._cursor = cursor
        self._path = path

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def fetchone(self) -> Any:
        try:
            return self._cursor.fetchone()
        except sqlite3.Error as exc:
            if _translated(exc):
                raise database_error(self._path, exc) from None
            raise

    def fetchall(self) -> list[Any]:
        try:
            return self._cursor.fetchall()
        except sqlite3.Error as exc:
            if _translated(exc):
                raise database_error(self._path, exc) from None
            raise

    def __iter__(self) -> Iterator[Any]:
        rows = iter(self._cursor)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except sqlite3.Error as exc:
                if _translated(exc):
                    raise database_error(self._path, exc) from None
                raise
            yield row


class GuardedConnection:
    """A SQLite connection whose every statement raises ``DatabaseError`` on a file's failure."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._path = path

    def execute(self, sql: str, parameters: Iterable[Any] = ()) -> GuardedCursor:
        try:
            return GuardedCursor(self._conn.execute(sql, tuple(parameters)), self._path)
        except sqlite3.Error as exc:
            if _translated(exc):
                raise database_error(self._path, exc) from None
            raise

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> GuardedCursor:
        try:
            return GuardedCursor(self._conn.executemany(sql, rows), self._path)
        except sqlite3.Error as exc:
            if _translated(exc):
                raise database_error(self._path, exc) from None
            raise

    def close(self) -> None:
        self._conn.close()

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction
