-- The national FINESS files of the current import generation, kept as imported (gzip) so the in-memory index can
-- be rebuilt at start-up and by every daemon sharing the store. An import replaces the whole generation in one
-- transaction: a failed or interrupted import leaves the previous generation untouched.
CREATE TABLE finess_files (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    generation  INTEGER NOT NULL,
    name        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    summary     TEXT NOT NULL,   -- JSON: format, counts, rejected count
    content     BLOB NOT NULL    -- the file, gzip-compressed
);
CREATE INDEX finess_files_generation ON finess_files (generation);
