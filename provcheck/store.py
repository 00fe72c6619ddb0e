"""The reference database: sources with their provenance, items, and the hashes of each item.

SQLite in WAL mode is the single source of truth. Opening never writes to a file until it is known
to be a provcheck database (or a new, empty one), so a wrong ``--db`` cannot damage anything.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from provcheck.errors import DatabaseError, UsageError
from provcheck.fingerprint import Hash, get_hasher
from provcheck.schema import APPLICATION_ID, CATEGORIES, MIGRATIONS, SCHEMA_VERSION

Region = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """Provenance shared by every item of one source: where the material came from and when."""

    label: str
    category: str
    url: str | None = None
    first_seen: str | None = None
    license: str | None = None
    notes: str | None = None

    def __post_init__(self) -> None:
        if not self.label.strip():
            raise UsageError("a source needs a non-empty --label")
        if self.category not in CATEGORIES:
            raise UsageError(
                f"category must be one of {', '.join(CATEGORIES)}, not {self.category!r}"
            )
        if self.first_seen is not None:
            parse_date(self.first_seen, "--first-seen")


def parse_date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{what} must be a date as YYYY-MM-DD, not {text!r}") from None


@dataclass(frozen=True, slots=True)
class Source:
    id: int
    info: SourceInfo
    item_count: int = 0


@dataclass(frozen=True, slots=True)
class StoredHash:
    hash: Hash
    quality: int | None = None
    region: Region | None = None


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """One reference item with its source's provenance: what a match reports."""

    id: int
    source_id: int
    origin: str
    item_key: str
    sha256: str | None
    width: int | None
    height: int | None
    frame_time: float | None
    source: SourceInfo
    hashes: list[StoredHash] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class KindArrays:
    """Everything a search over one hash kind needs, as flat arrays (row i = one stored hash)."""

    kind: str
    hash_ids: np.ndarray  # int64
    item_ids: np.ndarray  # int64
    codes: np.ndarray  # uint8, shape (rows, bytes per hash)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    """An open reference database. Use ``open_store``; close it (or use ``with``) when done."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, writable: bool) -> None:
        self._conn = conn
        self.path = path
        self.writable = writable

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    # -- transactions ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: an exception inside rolls every write back."""
        self._require_writable()
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _require_writable(self) -> None:
        if not self.writable:
            raise DatabaseError(f"{self.path}: opened read-only; cannot write to it")

    # -- sources -------------------------------------------------------------------------------

    def ensure_source(self, info: SourceInfo) -> tuple[int, bool]:
        """The id of the source labelled ``info.label``, created if new. Returns (id, created).

        A label names one source. Re-adding with the same label fills in provenance that was
        missing, and refuses provenance that contradicts what is stored rather than rewrite history.
        """
        self._require_writable()
        existing = self.find_source(info.label)
        if existing is None:
            cur = self._conn.execute(
                "INSERT INTO sources (label, category, url, first_seen, license, notes, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    info.label,
                    info.category,
                    info.url,
                    info.first_seen,
                    info.license,
                    info.notes,
                    _now(),
                ),
            )
            return int(cur.lastrowid or 0), True
        old = existing.info
        if old.category != info.category:
            raise UsageError(
                f"source {info.label!r} is already in the database as category {old.category!r};"
                " use that category or another label"
            )
        updates: dict[str, str] = {}
        for name in ("url", "first_seen", "license", "notes"):
            new_value, old_value = getattr(info, name), getattr(old, name)
            if new_value is None or new_value == old_value:
                continue
            if old_value is not None:
                raise UsageError(
                    f"source {info.label!r} already has {name.replace('_', '-')} {old_value!r};"
                    f" refusing to change it to {new_value!r} (use another label)"
                )
            updates[name] = new_value
        for name, value in updates.items():
            self._conn.execute(f"UPDATE sources SET {name} = ? WHERE id = ?", (value, existing.id))
        return existing.id, False

    def find_source(self, label: str) -> Source | None:
        row = self._conn.execute(
            "SELECT id, label, category, url, first_seen, license, notes FROM sources"
            " WHERE label = ?",
            (label,),
        ).fetchone()
        return None if row is None else Source(row[0], SourceInfo(*row[1:]))

    def sources(self) -> list[Source]:
        rows = self._conn.execute(
            "SELECT s.id, s.label, s.category, s.url, s.first_seen, s.license, s.notes,"
            " (SELECT count(*) FROM items i WHERE i.source_id = s.id)"
            " FROM sources s ORDER BY s.id"
        ).fetchall()
        return [Source(r[0], SourceInfo(*r[1:7]), r[7]) for r in rows]

    def remove_source(self, source_id: int) -> int:
        """Delete a source and all its items; returns how many items went with it."""
        self._require_writable()
        with self.transaction():
            n = self._conn.execute(
                "SELECT count(*) FROM items WHERE source_id = ?", (source_id,)
            ).fetchone()[0]
            cur = self._conn.execute("DELETE FROM sources WHERE id = ?", (source_id,))
            if cur.rowcount == 0:
                raise UsageError(f"no source with id {source_id} in {self.path}")
        return int(n)

    # -- items ---------------------------------------------------------------------------------

    def add_item(
        self,
        source_id: int,
        *,
        origin: str,
        item_key: str,
        hashes: Sequence[StoredHash],
        sha256: str | None = None,
        width: int | None = None,
        height: int | None = None,
        frame_time: float | None = None,
    ) -> tuple[int, bool]:
        """Store an item with its hashes unless the source already holds it. Returns (id, added)."""
        self._require_writable()
        row = self._conn.execute(
            "SELECT id FROM items WHERE source_id = ? AND item_key = ?"
            " AND IFNULL(frame_time, -1.0) = IFNULL(?, -1.0)",
            (source_id, item_key, frame_time),
        ).fetchone()
        if row is not None:
            return int(row[0]), False
        cur = self._conn.execute(
            "INSERT INTO items (source_id, origin, item_key, sha256, width, height, frame_time,"
            " added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (source_id, origin, item_key, sha256, width, height, frame_time, _now()),
        )
        item_id = int(cur.lastrowid or 0)
        self._conn.executemany(
            "INSERT INTO hashes (item_id, kind, bits, quality, rx, ry, rw, rh)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (item_id, h.hash.kind, h.hash.bits, h.quality, *(h.region or (None,) * 4))
                for h in hashes
            ],
        )
        return item_id, True

    def count_items(self, source_id: int, item_key: str) -> int:
        """How many items of ``source_id`` have ``item_key`` (a video's frames share one key)."""
        row = self._conn.execute(
            "SELECT count(*) FROM items WHERE source_id = ? AND item_key = ?",
            (source_id, item_key),
        ).fetchone()
        return int(row[0])

    def remove_item(self, item_id: int) -> None:
        with self.transaction():
            cur = self._conn.execute("DELETE FROM items WHERE id = ?", (item_id,))
            if cur.rowcount == 0:
                raise UsageError(f"no item with id {item_id} in {self.path}")

    def items(
        self,
        ids: Iterable[int] | None = None,
        *,
        with_hashes: bool = False,
        source_id: int | None = None,
    ) -> list[ItemRecord]:
        """Items with provenance, by id (in the order asked), by source, or all of them."""
        base = (
            "SELECT i.id, i.source_id, i.origin, i.item_key, i.sha256, i.width, i.height,"
            " i.frame_time, s.label, s.category, s.url, s.first_seen, s.license, s.notes"
            " FROM items i JOIN sources s ON s.id = i.source_id"
        )
        if ids is not None:
            wanted = [int(i) for i in ids]
            rows = []
            for chunk_start in range(0, len(wanted), 500):
                chunk = wanted[chunk_start : chunk_start + 500]
                marks = ",".join("?" * len(chunk))
                rows += self._conn.execute(f"{base} WHERE i.id IN ({marks})", chunk).fetchall()
            by_id = {r[0]: r for r in rows}
            rows = [by_id[i] for i in wanted if i in by_id]
        elif source_id is not None:
            rows = self._conn.execute(
                f"{base} WHERE i.source_id = ? ORDER BY i.id", (source_id,)
            ).fetchall()
        else:
            rows = self._conn.execute(f"{base} ORDER BY i.id").fetchall()
        records = [
            ItemRecord(*r[:8], source=SourceInfo(*r[8:14]))  # type: ignore[call-arg]
            for r in rows
        ]
        if with_hashes and records:
            by_item = self._hashes_by_item([r.id for r in records])
            for record in records:
                record.hashes.extend(by_item.get(record.id, []))
        return records

    def _hashes_by_item(self, item_ids: list[int]) -> dict[int, list[StoredHash]]:
        out: dict[int, list[StoredHash]] = {}
        for start in range(0, len(item_ids), 500):
            chunk = item_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for item_id, kind, bits, quality, *region in self._conn.execute(
                "SELECT item_id, kind, bits, quality, rx, ry, rw, rh FROM hashes"
                f" WHERE item_id IN ({marks}) ORDER BY id",
                chunk,
            ):
                reg = None if region[0] is None else tuple(region)
                out.setdefault(item_id, []).append(
                    StoredHash(Hash(kind, bytes(bits)), quality, reg)  # type: ignore[arg-type]
                )
        return out

    def iter_items_with_hashes(self, batch: int = 2000) -> Iterator[ItemRecord]:
        """Every item with its hashes, in id order, a batch at a time (for export)."""
        last = 0
        while True:
            ids = [
                r[0]
                for r in self._conn.execute(
                    "SELECT id FROM items WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
                )
            ]
            if not ids:
                return
            yield from self.items(ids, with_hashes=True)
            last = ids[-1]

    # -- search arrays -------------------------------------------------------------------------

    def generation(self) -> int:
        return int(
            self._conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]
        )

    def kind_arrays(self, kind: str) -> KindArrays:
        """The packed search arrays for ``kind``: one blob read when fresh, rebuilt when stale."""
        nbytes = get_hasher(kind).bits // 8
        generation = self.generation()
        row = self._conn.execute(
            "SELECT generation, hash_ids, item_ids, codes FROM packed WHERE kind = ?", (kind,)
        ).fetchone()
        if row is not None and row[0] == generation:
            return KindArrays(
                kind,
                np.frombuffer(row[1], dtype="<i8"),
                np.frombuffer(row[2], dtype="<i8"),
                np.frombuffer(row[3], dtype=np.uint8).reshape(-1, nbytes),
            )
        arrays = self._pack(kind, nbytes)
        if self.writable:
            self._conn.execute(
                "INSERT OR REPLACE INTO packed (kind, generation, hash_ids, item_ids, codes)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    kind,
                    generation,
                    arrays.hash_ids.astype("<i8").tobytes(),
                    arrays.item_ids.astype("<i8").tobytes(),
                    arrays.codes.tobytes(),
                ),
            )
        return arrays

    def _pack(self, kind: str, nbytes: int) -> KindArrays:
        rows = self._conn.execute(
            "SELECT id, item_id, bits FROM hashes WHERE kind = ? ORDER BY item_id, id", (kind,)
        ).fetchall()
        hash_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        item_ids = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        codes = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.uint8).reshape(-1, nbytes)
        return KindArrays(kind, hash_ids, item_ids, codes)

    def hash_regions(self, hash_ids: Sequence[int]) -> dict[int, Region | None]:
        out: dict[int, Region | None] = {}
        for start in range(0, len(hash_ids), 500):
            chunk = [int(h) for h in hash_ids[start : start + 500]]
            marks = ",".join("?" * len(chunk))
            for hid, *region in self._conn.execute(
                f"SELECT id, rx, ry, rw, rh FROM hashes WHERE id IN ({marks})", chunk
            ):
                out[hid] = None if region[0] is None else tuple(region)  # type: ignore[assignment]
        return out

    # -- statistics ----------------------------------------------------------------------------

    def stats(self) -> dict[str, object]:
        q = self._conn.execute
        return {
            "path": str(self.path),
            "schema_version": int(q("PRAGMA user_version").fetchone()[0]),
            "sources": int(q("SELECT count(*) FROM sources").fetchone()[0]),
            "items": int(q("SELECT count(*) FROM items").fetchone()[0]),
            "video_frames": int(
                q("SELECT count(*) FROM items WHERE frame_time IS NOT NULL").fetchone()[0]
            ),
            "hashes": {
                k: int(n)
                for k, n in q("SELECT kind, count(*) FROM hashes GROUP BY kind ORDER BY kind")
            },
            "categories": {
                c: int(n)
                for c, n in q(
                    "SELECT s.category, count(i.id) FROM sources s LEFT JOIN items i"
                    " ON i.source_id = s.id GROUP BY s.category ORDER BY s.category"
                )
            },
            "bytes": self.path.stat().st_size if self.path.exists() else 0,
        }


# -- opening -------------------------------------------------------------------------------------


def _probe(path: Path) -> tuple[int, int, int]:
    """(application_id, user_version, table count) read without writing a byte."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
        try:
            app = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
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


def open_store(path: Path, *, create: bool = False, readonly: bool = False) -> Store:
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
    try:
        if readonly:
            conn = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
        else:
            conn = sqlite3.connect(
                path, isolation_level=None, timeout=30.0, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 30000")
    except sqlite3.Error as exc:
        raise DatabaseError(f"{path}: cannot open ({exc})") from None
    store = Store(conn, path, writable=not readonly)
    if not readonly:
        _migrate(conn, path)
    return store


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version >= SCHEMA_VERSION:
        return
    try:
        conn.execute("BEGIN IMMEDIATE")
        for step in MIGRATIONS[version:]:
            for statement in _statements(step):
                conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
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


def default_db_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("provcheck", appauthor=False)) / "references.sqlite"


def bundled_pack_path() -> Path:
    """The reference pack shipped with provcheck (built by reference_db/build_pack.py)."""
    from importlib.resources import files

    return Path(str(files("provcheck.bundled").joinpath("pack.sqlite")))
