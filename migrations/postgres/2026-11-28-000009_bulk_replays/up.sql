-- A bulk replay: every delivery a log filter selected when it started (ids up to
-- `last_id`), replayed in batches by a background task that records its progress here.
CREATE TABLE bulk_replays (
    id BIGSERIAL PRIMARY KEY,
    filter TEXT NOT NULL,
    last_id BIGINT NOT NULL,
    cursor BIGINT,
    total BIGINT NOT NULL,
    done BIGINT NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    error TEXT,
    created_by BIGINT,
    created_by_name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
