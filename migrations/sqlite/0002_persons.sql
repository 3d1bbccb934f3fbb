-- Persons (the DUI's users) with their local strict traits, RNIV identity state and what INSi returned.
CREATE TABLE persons (
    id              TEXT PRIMARY KEY,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    traits          TEXT NOT NULL,   -- JSON StrictTraits, as recorded locally
    state           TEXT NOT NULL,   -- JSON IdentityState (facts + attributes; status derived)
    ins_value       TEXT,            -- matricule + key (15 characters)
    ins_oid         TEXT,
    insi_traits     TEXT,            -- JSON TIQ block of the last successful INSi answer
    ins_history     TEXT,            -- JSON list of former INS (INSHISTO)
    insi_checked_at TEXT,
    version         INTEGER NOT NULL -- optimistic concurrency: every update checks and bumps it
);
