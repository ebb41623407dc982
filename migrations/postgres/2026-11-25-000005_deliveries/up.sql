-- The delivery queue (the database is the queue) and the record of every attempt.
-- No foreign keys to webhooks/tickets/connections: the execution log keeps a delivery
-- after what caused it is deleted.
CREATE TABLE deliveries (
    id BIGSERIAL PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    webhook_id BIGINT,
    connection_id BIGINT,
    ticket_id BIGINT,
    event_id BIGINT,
    trigger TEXT NOT NULL,
    replay_of BIGINT,
    status TEXT NOT NULL,
    method TEXT NOT NULL,
    url TEXT NOT NULL,
    headers TEXT NOT NULL,
    sealed_headers TEXT,
    body TEXT NOT NULL,
    content_type TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    retry_schedule TEXT,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_expires_at TIMESTAMP,
    claim_token TEXT,
    claimed_by TEXT,
    last_status INTEGER,
    last_error TEXT,
    batch_key TEXT,
    batch_count INTEGER NOT NULL DEFAULT 1,
    batch_max INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_batch ON deliveries (batch_key, status);
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, id);
CREATE INDEX deliveries_connection ON deliveries (connection_id, id);
CREATE INDEX deliveries_created ON deliveries (created_at);

CREATE TABLE delivery_attempts (
    id BIGSERIAL PRIMARY KEY,
    delivery_id BIGINT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    trigger TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    duration_ms BIGINT NOT NULL,
    request_method TEXT NOT NULL,
    request_url TEXT NOT NULL,
    request_headers TEXT NOT NULL,
    request_body TEXT NOT NULL,
    response_status INTEGER,
    response_headers TEXT NOT NULL,
    response_body TEXT NOT NULL,
    response_truncated BOOLEAN NOT NULL DEFAULT FALSE,
    error_class TEXT,
    error_message TEXT,
    worker TEXT NOT NULL,
    note TEXT
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, number);
