"""The reference database's schema and its migrations, as data.

``MIGRATIONS[n]`` takes a database from schema version ``n`` to ``n + 1``. A released migration is
never edited: a change to the schema is a new entry, and ``SCHEMA_VERSION`` follows the list.
"""

from __future__ import annotations

#: SQLite ``PRAGMA application_id`` of every provcheck database ("PRVC"): how we tell our files from
#: any other SQLite file a user points ``--db`` at, before writing a single byte to it.
APPLICATION_ID = 0x50525643

_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('generation', '0');

CREATE TABLE sources (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    label      TEXT NOT NULL UNIQUE,
    category   TEXT NOT NULL CHECK (category IN ('game', 'footage', 'other')),
    url        TEXT,
    first_seen TEXT,             -- ISO date: when this material was first seen in public
    license    TEXT,
    notes      TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE items (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id  INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    origin     TEXT NOT NULL,    -- absolute path or URL the item was added from
    item_key   TEXT NOT NULL,    -- sha256 of the file, or '<kind>:<hex>' for hash-only imports
    sha256     TEXT,
    width      INTEGER,
    height     INTEGER,
    frame_time REAL,             -- seconds into a video; NULL for a still
    added_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX items_identity ON items (source_id, item_key, IFNULL(frame_time, -1.0));

CREATE TABLE hashes (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    kind    TEXT NOT NULL,       -- a fingerprint registry name: 'pdq', 'phash', ...
    bits    BLOB NOT NULL,       -- packed, most significant bit first
    quality INTEGER,
    -- the part of the item this hash covers, as fractions of its width/height; NULL = whole item
    rx REAL, ry REAL, rw REAL, rh REAL
);
CREATE INDEX hashes_kind_item ON hashes (kind, item_id);
CREATE INDEX hashes_item ON hashes (item_id);

-- Every change to the hashes bumps the generation, so cached search arrays know they are stale.
CREATE TRIGGER hashes_added AFTER INSERT ON hashes BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;
CREATE TRIGGER hashes_removed AFTER DELETE ON hashes BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;

-- Search arrays for one hash kind, packed as one blob each, derived from `hashes` and rebuilt
-- whenever `generation` moves on. A scan reads one row instead of one row per reference.
CREATE TABLE packed (
    kind       TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,
    hash_ids   BLOB NOT NULL,    -- int64, little-endian
    item_ids   BLOB NOT NULL,    -- int64, little-endian
    codes      BLOB NOT NULL     -- rows of packed bits
);
"""

# v2: a small preview picture per item (signals.thumbnail), shown by the HTML evidence report.
# Optional: hash-only imports and `db add --no-thumbnails` items simply have no row here.
_V2 = """
CREATE TABLE thumbnails (
    item_id INTEGER PRIMARY KEY REFERENCES items (id) ON DELETE CASCADE,
    mime    TEXT NOT NULL,       -- image/webp, image/jpeg or image/png
    data    BLOB NOT NULL        -- a few KB, longest side <= 160 px
);
"""

# v3: ORB keypoints per item (signals.keypoints), for partial matches and verification. The
# strongest of them are also packed into `packed` (kind 'orb') for retrieval, so a change to
# features bumps the generation like a change to hashes does.
_V3 = """
CREATE TABLE features (
    item_id INTEGER PRIMARY KEY REFERENCES items (id) ON DELETE CASCADE,
    data    BLOB NOT NULL        -- provcheck.features.Features.to_blob(): ~36 bytes a keypoint
);
CREATE TRIGGER features_added AFTER INSERT ON features BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;
CREATE TRIGGER features_removed AFTER DELETE ON features BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
END;
"""

# v4: where a source's references came from when imported as a shared pack (`db import`): the
# file or URL, the SHA-256 of its bytes, and the key that signed it. One row per pack import; a
# source points at the last pack that brought it (`db list` shows it). Sources added by hand have
# no pack.
_V4 = """
CREATE TABLE packs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    location    TEXT NOT NULL,   -- the path or URL it was imported from
    sha256      TEXT NOT NULL,   -- of the bytes as published (compressed, if it was)
    signer      TEXT,            -- Ed25519 public key (base64) whose signature was verified
    signed_at   TEXT,            -- when the publisher signed it (their clock)
    name        TEXT,            -- the pack's own name (its header), if it has one
    imported_at TEXT NOT NULL
);
ALTER TABLE sources ADD COLUMN pack_id INTEGER;  -- packs (id); NULL: not from a pack
"""

MIGRATIONS: list[str] = [_V1, _V2, _V3, _V4]
SCHEMA_VERSION = len(MIGRATIONS)
