"""The open SQLite reference database. SQLite in WAL mode is the single source of truth; the
class is assembled from its reads, its packed search arrays, its writes and its bulk exchange
(one module each)."""

from __future__ import annotations

from provcheck.store.sqlite.exchange import SqliteExchange


class SqliteStore(SqliteExchange):
    """An open SQLite reference database. Use ``provcheck.store.open_store``; close it (or use
    ``with``) when done."""

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()
