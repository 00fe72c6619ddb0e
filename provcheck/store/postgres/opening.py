"""Opening a PostgreSQL store: refuse a database that is not provcheck's (untouched), create or
upgrade the schema (once, under a lock, by the role that owns it), and hand back the store.

As with SQLite files, nothing is written until the database is known to be provcheck's or empty,
so a wrong ``--db`` cannot damage anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from provcheck.errors import DatabaseError
from provcheck.store.postgres.connection import Connection
from provcheck.store.postgres.schema import (
    APPLICATION,
    MIGRATION_LOCK,
    MIGRATIONS,
    SCHEMA,
    SCHEMA_VERSION,
)
from provcheck.store.postgres.store import PostgresStore
from provcheck.store.server_url import ServerURL

_OWNER_HINT = (
    "run 'provcheck db init --db URL' once with the role that owns the database"
    " (README: Team setup)"
)


@dataclass(frozen=True, slots=True)
class _Probe:
    version: int | None  # None: no provcheck schema yet
    foreign_table: str | None = None  # a table of another program, when there is no schema


def _probe(conn: Connection) -> _Probe:
    """What the database holds, read without writing a byte."""
    if conn.scalar("SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA,)) is None:
        other = conn.scalar(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')"
            " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " AND n.nspname NOT LIKE 'pg\\_%%' ORDER BY 1 LIMIT 1"
        )
        return _Probe(None, other)
    has_meta = conn.scalar(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = 'meta'",
        (SCHEMA,),
    )
    if has_meta is None:
        raise _foreign(conn, f"its schema {SCHEMA!r} belongs to another program")
    meta = dict(conn.all("SELECT key, value FROM meta WHERE key IN ('application', 'version')"))
    if meta.get("application") != APPLICATION:
        raise _foreign(conn, f"its schema {SCHEMA!r} belongs to another program")
    try:
        return _Probe(int(meta["version"]))
    except (KeyError, ValueError):
        raise _foreign(conn, "its schema version is unreadable") from None


def _foreign(conn: Connection, why: str) -> DatabaseError:
    return DatabaseError(
        f"{conn.where}: not a provcheck database ({why}); refusing to use or change it"
    )


def open_postgres(
    location: ServerURL, *, create: bool = False, readonly: bool = False
) -> PostgresStore:
    """Open the store at ``location``.

    ``create`` makes provcheck's schema in an empty database (``db add``/``import``/``init``);
    otherwise an empty database is an error. ``readonly`` never writes (scans, exports). A
    database holding another program's tables, or a newer provcheck schema, is refused.
    """
    conn = Connection(location)
    try:
        probe = _probe(conn)
        if probe.version is None:
            if probe.foreign_table is not None:
                raise _foreign(conn, f"it holds tables of another program: {probe.foreign_table}")
            if readonly or not create:
                raise DatabaseError(
                    f"{conn.where}: no provcheck references in this database yet (create them"
                    " with 'provcheck db add', or 'provcheck db init' as its owner)"
                )
            _migrate(conn, 0)
        elif probe.version > SCHEMA_VERSION:
            raise DatabaseError(
                f"{conn.where}: made by a newer provcheck (schema {probe.version}, this one"
                f" reads up to {SCHEMA_VERSION}); upgrade provcheck"
            )
        elif probe.version < SCHEMA_VERSION and not readonly:
            _migrate(conn, probe.version)
        store_id = str(conn.scalar("SELECT value FROM meta WHERE key = 'store_id'"))
        return PostgresStore(conn, location, store_id, writable=not readonly)
    except BaseException:
        conn.close()
        raise


def _migrate(conn: Connection, seen: int) -> None:
    """Bring the schema up to ``SCHEMA_VERSION`` in one transaction under an advisory lock, so
    that two processes opening a new database at once create it once."""
    import psycopg

    try:
        with conn.raw.transaction():
            conn.raw.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            probe = _probe(conn)
            version = probe.version or 0
            if probe.version is None and probe.foreign_table is not None:
                raise _foreign(conn, f"it holds tables of another program: {probe.foreign_table}")
            for step in MIGRATIONS[version:]:
                conn.raw.execute(step)  # no parameters: one simple query, several statements
            conn.raw.execute(
                "INSERT INTO meta (key, value) VALUES ('version', %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )
    except psycopg.errors.InsufficientPrivilege:
        what = "is missing" if seen == 0 else f"is at version {seen}, older than {SCHEMA_VERSION}"
        raise DatabaseError(
            f"{conn.where}: provcheck's schema {what} and this role may not change it;"
            f" {_OWNER_HINT}"
        ) from None
    except psycopg.Error as exc:
        raise DatabaseError(
            f"{conn.where}: could not create or upgrade the schema ({conn.clean(exc)})"
        ) from None
