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

-- Messages received in the application mailbox (not reports): kept, never deleted; `rejected` ones with the reason.
CREATE TABLE mss_inbox (
    id          TEXT PRIMARY KEY,
    message_id  TEXT NOT NULL UNIQUE,
    sender      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    ack_to      TEXT,                   -- Disposition-Notification-To
    status      TEXT NOT NULL,          -- received / acked / rejected
    detail      TEXT,                   -- JSON: rejection reason, acknowledgement sent
    received_at TEXT NOT NULL
);

CREATE TABLE mss_inbox_documents (
    inbox_id    TEXT NOT NULL REFERENCES mss_inbox(id),
    idx         INTEGER NOT NULL,
    path        TEXT NOT NULL,
    mime_type   TEXT NOT NULL,
    title       TEXT NOT NULL,
    unique_id   TEXT,
    hash_ok     INTEGER,
    content     BLOB NOT NULL,
    PRIMARY KEY (inbox_id, idx)
);
