-- The durable outbox (every outgoing exchange is a job committed before the API answers), idempotency keys, and
-- the audit hash chain.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,          -- dmp_push, mss_send…: picks the handler
    status          TEXT NOT NULL,          -- queued / sending / done / failed / cancelled
    payload         TEXT NOT NULL,          -- JSON, what the handler needs (ids fixed at enqueue time)
    subject         TEXT,                   -- what the job is about (document id…), for listings
    result          TEXT,                   -- JSON: success result or last error
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    next_at         TEXT NOT NULL,          -- not claimed before (RFC 3339 UTC, sortable text)
    lease_owner     TEXT,                   -- worker holding the job while status = sending
    lease_until     TEXT,                   -- the lease ends; an expired lease is claimed again
    idempotency_key TEXT UNIQUE,            -- caller + Idempotency-Key header
    request_hash    TEXT,                   -- SHA-256 of the request that created the job
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    done_at         TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_at);

-- Old background jobs become outbox jobs; one interrupted while sending is queued again (the DMP simulator and
-- the retry logic recognise a resend of the same uniqueId).
INSERT INTO outbox (id, kind, status, payload, subject, result, attempts, max_attempts, next_at, created_at,
                    updated_at)
SELECT id, 'dmp_push',
       CASE status WHEN 'sending' THEN 'queued' ELSE status END,
       json_object('document_id', document_id), document_id, result,
       CASE status WHEN 'queued' THEN 0 ELSE 1 END, 8, updated_at, created_at, updated_at
FROM dmp_jobs;
DROP TABLE dmp_jobs;

-- Hash chain: each row carries the hash of the previous one and its own (SHA-256, hex). Rows written before this
-- migration have none and are reported by `segur audit verify` as unchained.
ALTER TABLE audit ADD COLUMN prev_hash TEXT;
ALTER TABLE audit ADD COLUMN hash TEXT;
