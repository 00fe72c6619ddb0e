"""The open PostgreSQL reference store. PostgreSQL is the single source of truth; the class is
assembled from its reads, its writes and its mirrored search arrays (one module each)."""

from __future__ import annotations

from provcheck.store.postgres.search import PostgresSearch


class PostgresStore(PostgresSearch):
    """An open PostgreSQL reference store. Use ``provcheck.store.open_store``; close it (or use
    ``with``) when done."""

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
