-- The control plane's schema, one file for SQLite and Postgres (the `Any` driver passes SQL through
-- unchanged): only TEXT and BIGINT columns, ids and timestamps made by the service (ids are UUIDs,
-- timestamps RFC 3339 UTC with milliseconds, so they sort as text), no autoincrement.

CREATE TABLE environments (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    -- Bumped first thing by every write transaction on the environment: it takes the row lock in
    -- Postgres and the write lock in SQLite, so writers on one environment run one after another.
    write_seq   BIGINT NOT NULL DEFAULT 0,
    hash_seed   BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE sdk_keys (
    id              TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments(id),
    key_hash        TEXT NOT NULL UNIQUE,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL
);

CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL
);

-- Placements, layers, holdouts, segments and flags: one row an item, the body in its snapshot shape.
CREATE TABLE items (
    environment_id  TEXT NOT NULL REFERENCES environments(id),
    kind            TEXT NOT NULL,
    key             TEXT NOT NULL,
    body            TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (environment_id, kind, key)
);

CREATE TABLE experiments (
    id              TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments(id),
    key             TEXT NOT NULL,
    status          TEXT NOT NULL,
    revision        BIGINT NOT NULL,
    iteration       BIGINT NOT NULL,
    -- Everything else of the resource (JSON): name, placements, variants, allocation, targeting...
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (environment_id, key)
);
CREATE INDEX experiments_by_status ON experiments (environment_id, status);

-- One immutable row a publish: the snapshot exactly as served.
CREATE TABLE versions (
    environment_id  TEXT NOT NULL REFERENCES environments(id),
    version         BIGINT NOT NULL,
    digest          TEXT NOT NULL,
    -- SHA-256 of the snapshot without `version` and `published_at`: a publish that would change
    -- nothing else is not a new version (so the digest changes exactly when the content does).
    content_digest  TEXT NOT NULL,
    snapshot        TEXT NOT NULL,
    published_by    TEXT NOT NULL,
    published_at    TEXT NOT NULL,
    PRIMARY KEY (environment_id, version)
);

CREATE TABLE audit (
    id          TEXT PRIMARY KEY,
    ts          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    before      TEXT,
    after       TEXT
);
CREATE INDEX audit_by_entity ON audit (entity, entity_id);
