-- Fleet mode (PostgreSQL): the tables several daemons share so far — the outbox and the hash-chained audit log.
-- Same columns and text formats as the SQLite schema (migrations/sqlite/0001 and 0005).
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL,
    payload         TEXT NOT NULL,
    subject         TEXT,
    result          TEXT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    max_attempts    BIGINT NOT NULL,
    next_at         TEXT NOT NULL,
    lease_owner     TEXT,
    lease_until     TEXT,
    idempotency_key TEXT UNIQUE,
    request_hash    TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    done_at         TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_at);

CREATE TABLE audit (
    id              BIGINT PRIMARY KEY,
    at              TEXT NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    subject         TEXT,
    outcome         TEXT NOT NULL,
    correlation_id  TEXT,
    details         TEXT,
    prev_hash       TEXT,
    hash            TEXT
);
CREATE INDEX audit_at ON audit (at);
-- The largest id ever given (a deleted tail shows as a gap), as SQLite's sqlite_sequence.
CREATE TABLE audit_sequence (id INT PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL);
INSERT INTO audit_sequence VALUES (1, 0);

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit is append-only';
END;
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
