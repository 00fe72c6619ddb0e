"""The PostgreSQL backend's schema and its migrations, as data.

Same concepts as the SQLite schema (sources with provenance, items, hashes, keypoints, previews),
in a schema of its own (``provcheck``) so that one ``GRANT USAGE`` covers it. Two additions serve
the team: ``batches`` records every committed write transaction in commit order (``seq``), and
``removed`` keeps the ids of deleted items; every row a sync can fetch carries the ``batch_id``
of the transaction that wrote it, so a scanner fetches only what committed since its last look.
``batch_id`` defaults to the transaction's ``provcheck.batch`` setting, which only provcheck's
write transactions set: a row written any other way fails loudly instead of being missed.

``MIGRATIONS[n]`` takes the schema from version ``n`` to ``n + 1``; a released entry is never
edited.
"""

from __future__ import annotations

#: The schema (namespace) every table lives in.
SCHEMA = "provcheck"
#: ``meta.application`` of every provcheck database: how a foreign schema named ``provcheck`` is
#: told from ours.
APPLICATION = "provcheck"
#: Advisory lock keys (per database): migrations, and the commit-order tail of write transactions.
MIGRATION_LOCK = 0x5052_5643_0001
COMMIT_LOCK = 0x5052_5643_0002

_BATCH = "batch_id bigint NOT NULL DEFAULT current_setting('provcheck.batch')::bigint"

_V1 = f"""
CREATE SCHEMA provcheck;
COMMENT ON SCHEMA provcheck IS 'provcheck reference store';
CREATE TABLE provcheck.meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO provcheck.meta (key, value) VALUES
    ('application', '{APPLICATION}'),
    ('store_id', gen_random_uuid()::text);

CREATE SEQUENCE provcheck.commit_seq;
CREATE TABLE provcheck.batches (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seq          bigint UNIQUE,            -- commit order, set as the transaction's last write
    committed_at timestamptz,
    writer       text                      -- the role that wrote it
);

-- Where a source's references came from when imported as a shared pack (`db import`): one row
-- per pack import; a source points at the last pack that brought it (SQLite's schema 4).
CREATE TABLE provcheck.packs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    location    text NOT NULL,
    sha256      text NOT NULL,
    signer      text,
    signed_at   text,
    name        text,
    imported_at text NOT NULL
);

CREATE TABLE provcheck.sources (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    label      text NOT NULL UNIQUE,
    category   text NOT NULL CHECK (category IN ('game', 'footage', 'other')),
    url        text,
    first_seen text,                      -- ISO date, as in SQLite
    license    text,
    notes      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    pack_id    bigint REFERENCES provcheck.packs (id)
);

CREATE TABLE provcheck.items (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id  bigint NOT NULL REFERENCES provcheck.sources (id) ON DELETE CASCADE,
    origin     text NOT NULL,
    item_key   text NOT NULL,
    sha256     text,
    width      integer,
    height     integer,
    frame_time double precision,
    added_at   timestamptz NOT NULL DEFAULT now(),
    {_BATCH}
);
CREATE UNIQUE INDEX items_identity
    ON provcheck.items (source_id, item_key, COALESCE(frame_time, -1.0));
CREATE INDEX items_batch ON provcheck.items (batch_id);

CREATE TABLE provcheck.hashes (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    item_id bigint NOT NULL REFERENCES provcheck.items (id) ON DELETE CASCADE,
    kind    text NOT NULL,
    bits    bytea NOT NULL,
    quality integer,
    rx double precision, ry double precision, rw double precision, rh double precision,
    {_BATCH}
);
CREATE INDEX hashes_item ON provcheck.hashes (item_id);
CREATE INDEX hashes_batch ON provcheck.hashes (batch_id, kind);

CREATE TABLE provcheck.features (
    item_id bigint PRIMARY KEY REFERENCES provcheck.items (id) ON DELETE CASCADE,
    data    bytea NOT NULL,
    {_BATCH}
);
CREATE INDEX features_batch ON provcheck.features (batch_id);

CREATE TABLE provcheck.thumbnails (
    item_id bigint PRIMARY KEY REFERENCES provcheck.items (id) ON DELETE CASCADE,
    mime    text NOT NULL,
    data    bytea NOT NULL
);

CREATE TABLE provcheck.removed (
    item_id bigint NOT NULL,
    {_BATCH}
);
CREATE INDEX removed_batch ON provcheck.removed (batch_id);

CREATE FUNCTION provcheck.note_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO provcheck.removed (item_id) SELECT id FROM gone;
    RETURN NULL;
END
$$;
CREATE TRIGGER items_removed AFTER DELETE ON provcheck.items
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION provcheck.note_removed();
"""

MIGRATIONS: list[str] = [_V1]
SCHEMA_VERSION = len(MIGRATIONS)
