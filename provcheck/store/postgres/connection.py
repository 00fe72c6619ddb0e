"""One connection to a PostgreSQL store: opened from a ``ServerURL``, with every driver error
turned into a one-line ``DatabaseError`` that names the database by its display form (no
password) and, where there is one, the fix.

psycopg is imported here only, and only when a ``postgresql://`` location is opened: SQLite
users never load it (``provcheck[postgres]`` installs it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from provcheck.errors import DatabaseError
from provcheck.store.postgres.schema import SCHEMA
from provcheck.store.server_url import ServerURL

if TYPE_CHECKING:
    import psycopg

#: Seconds to wait for the server before giving up (unless the URL says ``connect_timeout``).
CONNECT_TIMEOUT_S = 10
#: What the server shows in ``pg_stat_activity`` (unless the URL names another).
APPLICATION_NAME = "provcheck"
_INSTALL_HINT = "PostgreSQL databases need psycopg: pip install 'provcheck[postgres]'"


def _driver() -> Any:
    try:
        import psycopg
    except ImportError:
        raise DatabaseError(_INSTALL_HINT) from None
    return psycopg


def _secrets(url: str) -> list[str]:
    """The password(s) in ``url``, to scrub from any message a driver might echo."""
    parts = urlsplit(url)
    found = [unquote(parts.password)] if parts.password else []
    found += [v for k, v in parse_qsl(parts.query) if k in ("password", "sslpassword") and v]
    return [s for s in found if s]


class Connection:
    """A psycopg connection in autocommit mode (transactions are explicit) whose errors come out
    as ``DatabaseError``s naming ``where``."""

    def __init__(self, location: ServerURL) -> None:
        psycopg = _driver()
        #: Held for every statement, and for whole snapshots and transactions: ``serve`` threads
        #: share one connection, and a statement must never land inside another's transaction.
        self.lock = threading.RLock()
        self.where = location.display
        self._secrets = _secrets(location.secret_url)
        defaults = {"connect_timeout": CONNECT_TIMEOUT_S, "application_name": APPLICATION_NAME}
        try:
            given = psycopg.conninfo.conninfo_to_dict(location.secret_url)
        except psycopg.ProgrammingError as exc:
            raise DatabaseError(
                f"{self.where}: not a valid database URL ({self.clean(exc)})"
            ) from None
        extra = {k: v for k, v in defaults.items() if k not in given}
        try:
            self.raw: psycopg.Connection = psycopg.connect(
                location.secret_url, autocommit=True, **extra
            )
        except psycopg.Error as exc:
            raise DatabaseError(f"{self.where}: cannot connect ({self.clean(exc)})") from None
        with self.errors():
            self.raw.execute(f"SET search_path = {SCHEMA}")

    def close(self) -> None:
        self.raw.close()

    def clean(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split()) or type(exc).__name__
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn driver errors raised inside the block into ``DatabaseError``s."""
        psycopg = _driver()
        try:
            yield
        except psycopg.errors.InsufficientPrivilege as exc:
            raise DatabaseError(
                f"{self.where}: permission denied ({self.clean(exc)}); this role may not do"
                " that: scans and exports need the scanner role, changes a curator role, schema"
                " upgrades the owner (README: Team setup)"
            ) from None
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            raise DatabaseError(
                f"{self.where}: the server is read-only ({self.clean(exc)}); write to the primary"
            ) from None
        except psycopg.OperationalError as exc:
            raise DatabaseError(f"{self.where}: connection lost ({self.clean(exc)})") from None
        except psycopg.Error as exc:
            raise DatabaseError(f"{self.where}: {self.clean(exc)}") from None

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> psycopg.Cursor:
        with self.lock, self.errors():
            return self.raw.execute(sql, params)

    def one(self, sql: str, params: Sequence[Any] | None = None) -> tuple[Any, ...] | None:
        return self.execute(sql, params).fetchone()

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def all(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.execute(sql, params).fetchall()

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != _driver().pq.TransactionStatus.IDLE

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read-only REPEATABLE READ transaction: every query inside sees one snapshot."""
        with self.lock, self.errors():
            raw = self.raw
            raw.isolation_level = _driver().IsolationLevel.REPEATABLE_READ
            raw.read_only = True
            try:
                with raw.transaction():
                    yield
            finally:
                raw.isolation_level = None
                raw.read_only = None

    def stream(self, sql: str, params: Sequence[Any], rows: int) -> Iterator[tuple[Any, ...]]:
        """The rows of ``sql`` through a server-side cursor, ``rows`` per round trip (inside
        ``snapshot``: a named cursor lives in a transaction)."""
        with self.lock, self.errors():
            cursor = self.raw.cursor(name=f"provcheck_{id(self):x}", binary=True)
            cursor.itersize = rows
            try:
                cursor.execute(sql, params)
                yield from cursor
            finally:
                cursor.close()
