-- MSSanté messages sent by the gateway and what happened to them (submission, DSN, MDN).
CREATE TABLE mss_messages (
    id          TEXT PRIMARY KEY,       -- message uuid: Message-ID local part and DSN ENVID
    job_id      TEXT NOT NULL UNIQUE,
    document_id TEXT NOT NULL REFERENCES documents(id),
    message_id  TEXT NOT NULL UNIQUE,   -- Message-ID without brackets
    sender      TEXT NOT NULL,
    recipients  TEXT NOT NULL,          -- JSON array (a patient address holds the INS)
    content     BLOB NOT NULL,          -- the RFC 5322 bytes, sent as built
    status      TEXT NOT NULL,          -- queued / sent / delivered / read / failed
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE mss_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    message     TEXT NOT NULL REFERENCES mss_messages(id),
    at          TEXT NOT NULL,
    kind        TEXT NOT NULL,          -- submitted / submit_failed / dsn / mdn
    detail      TEXT NOT NULL           -- JSON
);
CREATE INDEX mss_events_message ON mss_events(message, seq);
