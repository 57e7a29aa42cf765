-- 0001: files, faces, persons, assignments, cannot-links and the work queue.
-- Times are Unix nanoseconds (INTEGER); NULL means unknown.

CREATE TABLE files (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    path           TEXT    NOT NULL UNIQUE,
    size           INTEGER NOT NULL DEFAULT 0,
    mtime          INTEGER NOT NULL DEFAULT 0,
    hash           TEXT    NOT NULL DEFAULT '',           -- sha256, lower-case hex
    kind           TEXT    NOT NULL DEFAULT 'photo' CHECK (kind IN ('photo', 'video')),
    capture_time   INTEGER,                               -- NULL: unknown
    capture_source TEXT    NOT NULL DEFAULT '',           -- exif, quicktime, mtime, ...
    status         TEXT    NOT NULL DEFAULT 'pending'
                           CHECK (status IN ('pending', 'done', 'failed', 'gone')),
    error          TEXT    NOT NULL DEFAULT '',
    error_at       INTEGER,
    model          TEXT    NOT NULL DEFAULT '',           -- model versions of the last analysis
    analysed_at    INTEGER,
    analyses       INTEGER NOT NULL DEFAULT 0,            -- committed analyses of this file
    width          INTEGER NOT NULL DEFAULT 0,
    height         INTEGER NOT NULL DEFAULT 0,
    stored_width   INTEGER NOT NULL DEFAULT 0,
    stored_height  INTEGER NOT NULL DEFAULT 0,
    orientation    INTEGER NOT NULL DEFAULT 1,
    visibility     TEXT    NOT NULL DEFAULT '' CHECK (visibility IN ('', 'private', 'public')),
    export_rev     INTEGER NOT NULL DEFAULT 0,            -- bumped whenever the sidecar content changes
    exported_rev   INTEGER NOT NULL DEFAULT 0,            -- last revision an exporter wrote
    gone_at        INTEGER
);
CREATE INDEX files_hash   ON files (hash) WHERE hash <> '';
CREATE INDEX files_status ON files (status);
CREATE INDEX files_export ON files (id) WHERE export_rev > exported_rev;

CREATE TABLE persons (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
    name              TEXT    NOT NULL DEFAULT '',
    name_source       TEXT    NOT NULL DEFAULT '' CHECK (name_source IN ('', 'user', 'sidecar', 'auto')),
    birth_year        INTEGER,
    birth_year_source TEXT    NOT NULL DEFAULT '' CHECK (birth_year_source IN ('', 'user', 'sidecar', 'auto')),
    gender            TEXT    NOT NULL DEFAULT '' CHECK (gender IN ('', 'male', 'female')),
    gender_source     TEXT    NOT NULL DEFAULT '' CHECK (gender_source IN ('', 'user', 'sidecar', 'auto')),
    opt_out           INTEGER NOT NULL DEFAULT 0,
    merged_into       INTEGER REFERENCES persons (id),
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

CREATE TABLE faces (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,       -- never reused
    file_id      INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    frame_time   REAL    NOT NULL DEFAULT 0,
    frames       INTEGER NOT NULL DEFAULT 0,
    x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,       -- upright pixels
    sx1 REAL NOT NULL, sy1 REAL NOT NULL, sx2 REAL NOT NULL, sy2 REAL NOT NULL,   -- stored pixels
    score        REAL    NOT NULL DEFAULT 0,
    landmarks    BLOB,                                    -- 10 x float64 little-endian
    age          REAL    NOT NULL DEFAULT 0,
    male_prob    REAL    NOT NULL DEFAULT 0,
    birth_year   REAL,                                    -- capture year - (age - 0.5); NULL without a capture time
    features     BLOB    NOT NULL,                        -- float32 little-endian, L2-normalised
    model        TEXT    NOT NULL DEFAULT '',
    forgotten_by INTEGER REFERENCES persons (id),         -- set when the person opted out
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX faces_file ON faces (file_id);
CREATE INDEX faces_forgotten ON faces (forgotten_by) WHERE forgotten_by IS NOT NULL;

CREATE TABLE assignments (
    face_id     INTEGER PRIMARY KEY REFERENCES faces (id) ON DELETE CASCADE,
    person_id   INTEGER NOT NULL REFERENCES persons (id),
    source      TEXT    NOT NULL CHECK (source IN ('auto', 'user')),
    assigned_at INTEGER NOT NULL
);
CREATE INDEX assignments_person ON assignments (person_id);

-- "These two faces are different persons" (a < b).
CREATE TABLE cannot_link_faces (
    a          INTEGER NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
    b          INTEGER NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
) WITHOUT ROWID;
CREATE INDEX cannot_link_faces_b ON cannot_link_faces (b);

-- "This face is not that person".
CREATE TABLE cannot_link_persons (
    face_id    INTEGER NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
    person_id  INTEGER NOT NULL REFERENCES persons (id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (face_id, person_id)
) WITHOUT ROWID;
CREATE INDEX cannot_link_persons_person ON cannot_link_persons (person_id);

-- The persistent work queue: one row per path, leased while a worker holds it.
CREATE TABLE queue (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    path        TEXT    NOT NULL UNIQUE,
    reason      TEXT    NOT NULL DEFAULT '',
    enqueued_at INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,               -- leases handed out so far
    leased_by   TEXT,
    leased_at   INTEGER,
    lease_token INTEGER,
    dirty       INTEGER NOT NULL DEFAULT 0                -- enqueued again while leased
);
CREATE INDEX queue_free ON queue (id) WHERE leased_by IS NULL;
