-- PPS documents built by the gateway, their DMP sending jobs, and what the sandbox DMP simulator received.
CREATE TABLE documents (
    id          TEXT PRIMARY KEY,
    person_id   TEXT NOT NULL REFERENCES persons(id),
    cda_id      TEXT NOT NULL UNIQUE,   -- CDA id root (XDS uniqueId)
    set_id      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    replaces    TEXT REFERENCES documents(id),
    entry_uuid  TEXT NOT NULL UNIQUE,   -- XDS entryUUID of the document entry (urn:uuid:...)
    plan        TEXT NOT NULL,          -- JSON PpsDocument, to rebuild the validated CDA when sending
    pdf         BLOB,                   -- N1 content
    built_at    TEXT NOT NULL,          -- effectiveTime
    xml         TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX documents_set ON documents(set_id);

CREATE TABLE dmp_jobs (
    id          TEXT PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents(id),
    status      TEXT NOT NULL,          -- queued / sending / done / failed
    result      TEXT,                   -- JSON
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE sim_dmp_documents (
    unique_id    TEXT PRIMARY KEY,
    entry_uuid   TEXT NOT NULL UNIQUE,
    patient      TEXT NOT NULL,         -- INS in CX form
    structure_id TEXT NOT NULL,
    replaces     TEXT,                  -- entryUUID replaced (RPLC)
    status       TEXT NOT NULL,         -- approved / deprecated
    metadata     TEXT NOT NULL,         -- the SubmitObjectsRequest received
    content      BLOB NOT NULL,
    received_at  TEXT NOT NULL
);
